package ratelimit

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New("address", 2, 3, 2, c.now)
	for i := range 3 {
		if err := l.Allow("a"); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	err := l.Allow("a")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrLimited) || e.RetryAfter != 500*time.Millisecond {
		t.Fatalf("fourth request: %v, want a refusal with RetryAfter 500ms", err)
	}
	h := http.Header{}
	if !SetRetryAfter(h, err) || h.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After = %q, want 1", h.Get("Retry-After"))
	}
	if err := l.Allow("b"); err != nil {
		t.Fatalf("another key has its own bucket: %v", err)
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if err := l.Allow("a"); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

func TestLimiterBoundsKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New("key", 1, 1, 2, c.now)
	_ = l.Allow("a")
	_ = l.Allow("b")
	if err := l.Allow("c"); !errors.Is(err, ErrLimited) {
		t.Fatalf("a third key while two busy keys are tracked: %v, want refused", err)
	}
	if l.Len() != 2 {
		t.Fatalf("tracked %d keys, want 2", l.Len())
	}
	c.t = c.t.Add(2 * time.Second) // a and b refill: idle, forgotten
	if err := l.Allow("c"); err != nil {
		t.Fatalf("after the others went idle: %v", err)
	}
	if l.Len() != 1 {
		t.Fatalf("tracked %d keys after the sweep, want 1", l.Len())
	}
}

func TestLimiterOff(t *testing.T) {
	var nilL *Limiter
	off := New("address", 0, 1, 1, nil)
	for range 10 {
		if nilL.Allow("x") != nil || off.Allow("x") != nil {
			t.Fatal("a nil or zero-rate limiter refused")
		}
	}
}
