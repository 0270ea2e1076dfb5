// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per
// key (a client address, a signing key) with a bounded number of keys, so a
// flood from many sources costs the node bounded memory. Safe for
// concurrent use.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrLimited is what every refusal wraps; test with errors.Is, and use
// errors.As with *Error for the time to wait.
var ErrLimited = errors.New("rate limit exceeded")

// Error is a refusal: the caller may retry after RetryAfter.
type Error struct {
	Scope      string // what was limited, e.g. "address", "key"
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v for this %s: retry after %s", ErrLimited, e.Scope, e.RetryAfter.Round(time.Second))
}

func (e *Error) Unwrap() error { return ErrLimited }

// RetryAfterDuration lets other packages map the error to HTTP 429
// without importing this one.
func (e *Error) RetryAfterDuration() time.Duration { return e.RetryAfter }

// SetRetryAfter sets the Retry-After header (whole seconds, at least 1)
// when err is a rate-limit refusal, and reports whether it was.
func SetRetryAfter(h http.Header, err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	secs := int64(math.Ceil(e.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	return true
}

// Limiter holds a token bucket per key: Rate tokens a second, up to Burst.
type Limiter struct {
	scope   string
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// New returns a limiter allowing perSecond requests a second per key with
// bursts of burst, tracking at most maxKeys keys. perSecond <= 0 turns the
// limiter off (Allow always succeeds). now is the clock (nil: time.Now).
func New(scope string, perSecond float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = 1
	}
	if maxKeys < 1 {
		maxKeys = 1
	}
	return &Limiter{scope: scope, limit: rate.Limit(perSecond), burst: burst, maxKeys: maxKeys, now: now,
		buckets: make(map[string]*rate.Limiter)}
}

// Allow takes one token from key's bucket, or returns an *Error saying how
// long to wait. A key seen for the first time while maxKeys busy keys are
// tracked is refused too (retry after the time one bucket takes to refill):
// memory stays bounded, and idle keys are forgotten as they refill.
func (l *Limiter) Allow(key string) error {
	if l == nil || l.limit <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		if len(l.buckets) >= l.maxKeys {
			return &Error{Scope: l.scope, RetryAfter: l.refill()}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &Error{Scope: l.scope, RetryAfter: d}
	}
	return nil
}

// refill is how long an empty bucket takes to fill.
func (l *Limiter) refill() time.Duration {
	return time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
}

// sweep forgets buckets that are full again: their keys have been idle long
// enough that forgetting them changes nothing. At most once a second, so a
// flood of new keys does not make every call walk the map.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Second {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// Len is the number of keys tracked, for metrics and tests.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
