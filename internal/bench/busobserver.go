package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
)

// BusObserver follows blocks of a CometBFT node in this process through its
// event bus: no polling, no encoding. A block is seen when CometBFT
// publishes it, after the application's Commit.
//
// Height subscribes (the first time), so that no block after the height it
// returns can be missed by the Follow that comes next. Each BusObserver
// serves one Follow.
type BusObserver struct {
	Bus       *cmttypes.EventBus
	HeightNow func() int64 // the block store's height

	name string
	sub  cmttypes.Subscription
}

var busSubscribers atomic.Int64

func (o *BusObserver) Height(ctx context.Context) (int64, error) {
	if o.sub == nil {
		o.name = fmt.Sprintf("bench-%d", busSubscribers.Add(1))
		sub, err := o.Bus.Subscribe(context.Background(), o.name, cmttypes.EventQueryNewBlock, 4096)
		if err != nil {
			return 0, fmt.Errorf("subscribe: %w", err)
		}
		o.sub = sub
	}
	return o.HeightNow(), nil
}

func (o *BusObserver) Follow(ctx context.Context, from int64, out chan<- *Block) error {
	if o.sub == nil {
		return errors.New("bus observer: call Height before Follow")
	}
	sub := o.sub
	defer func() { _ = o.Bus.UnsubscribeAll(context.Background(), o.name) }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.Canceled():
			if err := sub.Err(); err != nil {
				return fmt.Errorf("subscription canceled: %w", err)
			}
			return errors.New("subscription canceled")
		case msg := <-sub.Out():
			seen := time.Now()
			ev, ok := msg.Data().(cmttypes.EventDataNewBlock)
			if !ok || ev.Block.Height < from {
				continue
			}
			b := &Block{Height: ev.Block.Height, Seen: seen, Time: ev.Block.Time, Txs: make([]BlockTx, len(ev.Block.Txs))}
			for i, tx := range ev.Block.Txs {
				b.NumBytes += len(tx)
				b.Txs[i].Hash = sha256.Sum256(tx)
				if i < len(ev.ResultFinalizeBlock.TxResults) {
					r := ev.ResultFinalizeBlock.TxResults[i]
					b.Txs[i].Code, b.Txs[i].Codespace, b.Txs[i].Log = r.Code, r.Codespace, r.Log
				}
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}
