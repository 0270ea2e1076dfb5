package node

import (
	"sync"

	"github.com/medchain/medchain/app"
)

// commits hands committed transaction results to the API requests waiting
// for them. A waiter registers before its transaction enters the mempool, so
// a result can never be missed.
type commits struct {
	mu      sync.Mutex
	waiters map[[32]byte][]chan app.TxResult
	height  int64
	cond    *sync.Cond
}

func newCommits() *commits {
	c := &commits{waiters: map[[32]byte][]chan app.TxResult{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// wait registers interest in a transaction hash; cancel undoes it.
func (c *commits) wait(h [32]byte) (ch chan app.TxResult, cancel func()) {
	ch = make(chan app.TxResult, 1)
	c.mu.Lock()
	c.waiters[h] = append(c.waiters[h], ch)
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		list := c.waiters[h]
		for i, w := range list {
			if w == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(c.waiters, h)
		} else {
			c.waiters[h] = list
		}
	}
}

// committed is the application's commit hook.
func (c *commits) committed(height int64, results []app.TxResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range results {
		for _, ch := range c.waiters[r.Hash] {
			ch <- r
		}
		delete(c.waiters, r.Hash)
	}
	c.height = height
	c.cond.Broadcast()
}
