package coord

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Limiter is a set of token buckets, one per key, shared by every replica:
// Burst attempts at once, then one more every Every, counted once across
// replicas (not once per replica). Each bucket is a key whose value is its
// tokens and when they were counted, changed by compare-and-set; a bucket
// untouched for as long as it takes to refill expires, so idle keys cost
// nothing.
type Limiter struct {
	kv    jetstream.KeyValue
	burst float64
	every time.Duration
	now   func() time.Time
}

// maxCASAttempts bounds retries of a bucket written by others at the same
// moment. Each round of a contended key lets one writer through, so the
// bound must exceed the writers one key may see at once (a burst of
// parallel sign-ins to one account); a jittered pause between attempts
// spreads them out.
const maxCASAttempts = 256

// casPause is a random pause before attempt n (from 1) of a contended
// write: up to n ms, at most 20 ms.
func casPause(n int) time.Duration {
	return time.Duration(rand.Int64N(int64(min(n, 20)) * int64(time.Millisecond)))
}

// Limiter returns the shared limiter called name (one bucket per name:
// every replica must give the same rate for the same name).
func (c *Coord) Limiter(ctx context.Context, name string, burst int, every time.Duration, now func() time.Time) (*Limiter, error) {
	if !validName(name) {
		return nil, fmt.Errorf("limiter name %q: use 1-64 letters, digits, '-' or '_'", name)
	}
	if burst < 1 || every <= 0 {
		return nil, fmt.Errorf("limiter %s: %d per %s is not a rate", name, burst, every)
	}
	if now == nil {
		now = time.Now
	}
	// Past a full refill (plus the deepest debt Take allows) a bucket is
	// as good as new: let it expire.
	kv, err := c.bucket(ctx, "limit_"+name, time.Duration(2*burst)*every+time.Second)
	if err != nil {
		return nil, err
	}
	return &Limiter{kv: kv, burst: float64(burst), every: every, now: now}, nil
}

type bucketState struct {
	Tokens float64 `json:"t"`
	At     int64   `json:"at"` // unix nanoseconds
}

// change applies f to key's bucket as it is now and writes the result,
// retrying when another replica wrote it in between. f returns whether to
// write at all.
func (l *Limiter) change(ctx context.Context, key string, f func(tokens float64) (float64, bool)) (float64, error) {
	key = Key(key)
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(casPause(attempt)):
			}
		}
		now := l.now()
		tokens, rev := l.burst, uint64(0)
		e, err := l.kv.Get(ctx, key)
		switch {
		case err == nil:
			var st bucketState
			if json.Unmarshal(e.Value(), &st) == nil {
				elapsed := max(now.Sub(time.Unix(0, st.At)), 0)
				tokens = math.Min(l.burst, st.Tokens+float64(elapsed)/float64(l.every))
			}
			rev = e.Revision()
		case absent(err):
			if e != nil {
				rev = e.Revision()
			}
		default:
			return 0, err
		}
		next, write := f(tokens)
		if !write {
			return tokens, nil
		}
		raw, _ := json.Marshal(bucketState{Tokens: next, At: now.UnixNano()})
		if rev == 0 {
			_, err = l.kv.Create(ctx, key, raw)
		} else {
			_, err = l.kv.Update(ctx, key, raw, rev)
		}
		if err == nil {
			return tokens, nil
		}
		if !conflict(err) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("rate limit bucket: too many concurrent writers")
}

// wait is how long until a bucket holding tokens has one.
func (l *Limiter) wait(tokens float64) time.Duration {
	return time.Duration((1 - tokens) * float64(l.every))
}

// Allow takes a token for key; when none is left it says how long until
// one is.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	tokens, err := l.change(ctx, key, func(t float64) (float64, bool) { return t - 1, t >= 1 })
	if err != nil {
		return false, 0, err
	}
	if tokens >= 1 {
		return true, 0, nil
	}
	return false, l.wait(tokens), nil
}

// Check says whether key has a token left, without taking it, and if not
// how long until it has.
func (l *Limiter) Check(ctx context.Context, key string) (bool, time.Duration, error) {
	tokens, err := l.change(ctx, key, func(t float64) (float64, bool) { return t, false })
	if err != nil {
		return false, 0, err
	}
	if tokens >= 1 {
		return true, 0, nil
	}
	return false, l.wait(tokens), nil
}

// Take takes a token for key even when none is left: the bucket goes into
// debt (at most Burst deep, so a storm cannot lock a key for ever) and
// repeated failures push the next allowed attempt out.
func (l *Limiter) Take(ctx context.Context, key string) error {
	_, err := l.change(ctx, key, func(t float64) (float64, bool) { return math.Max(t-1, -l.burst), true })
	return err
}

// Give returns a token taken before (an attempt counted up front that
// turned out not to count), never past a full bucket.
func (l *Limiter) Give(ctx context.Context, key string) error {
	_, err := l.change(ctx, key, func(t float64) (float64, bool) { return math.Min(t+1, l.burst), t < l.burst })
	return err
}
