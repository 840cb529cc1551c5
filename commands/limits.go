package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/accountd/accountd/internal/ratelimit"
)

// Limits makes the limiters every limit of the commands goes through
// (sign-in throttles, password confirmations, registrations, picture
// uploads). A replica counting on its own would let N replicas allow N
// times a limit, so a service with several replicas gives limits that all
// of them share (the coordination store's); MemoryLimits is for tests and
// a single process.
type Limits interface {
	// Limiter returns the limiter called name: Burst attempts per key at
	// once, then one more every Every. The same name gives the same buckets
	// (every caller must give the same rate for a name).
	Limiter(ctx context.Context, name string, r Rate) (Limiter, error)
}

// Limiter is a set of token buckets, one per key. Every method fails on
// an error of the store behind it: a limit that cannot be counted is no
// free pass (callers refuse, UnavailableError).
type Limiter interface {
	// Allow takes a token for key; when none is left it says how long
	// until one is.
	Allow(ctx context.Context, key string) (bool, time.Duration, error)
	// Check says whether key has a token left, without taking it, and if
	// not how long until it has.
	Check(ctx context.Context, key string) (bool, time.Duration, error)
	// Take takes a token even when none is left: the bucket goes into
	// debt, at most Burst deep.
	Take(ctx context.Context, key string) error
	// Give returns a token taken before, never past a full bucket.
	Give(ctx context.Context, key string) error
}

// UnavailableError: something a command needs to decide safely (the shared
// limits) cannot be reached; the command did nothing. Retry after
// RetryAfter.
type UnavailableError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("unavailable (%v); retry after %s", e.Err, e.RetryAfter)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// limitsDown is the error of a limit that could not be counted: refused,
// not a free pass.
func limitsDown(err error) error {
	return &UnavailableError{RetryAfter: time.Second, Err: fmt.Errorf("rate limits: %w", err)}
}

// MemoryLimits keeps the buckets in this process. State: per process, so
// it is right for one replica only (tests, a single process); a service
// with several replicas uses shared limits.
type MemoryLimits struct {
	now func() time.Time

	mu       sync.Mutex
	limiters map[string]memoryLimiter
}

// NewMemoryLimits returns limits on the clock now (nil: time.Now).
func NewMemoryLimits(now func() time.Time) *MemoryLimits {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimits{now: now, limiters: map[string]memoryLimiter{}}
}

// Limiter implements Limits.
func (m *MemoryLimits) Limiter(ctx context.Context, name string, r Rate) (Limiter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !r.valid() {
		return nil, fmt.Errorf("limiter %s: %s is not a rate", name, r)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.limiters[name]
	if !ok {
		l = memoryLimiter{ratelimit.New(r.Burst, r.Every, m.now)}
		m.limiters[name] = l
	}
	return l, nil
}

// Prune forgets buckets that have refilled, bounding memory.
func (m *MemoryLimits) Prune() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.limiters {
		l.l.Prune()
	}
}

type memoryLimiter struct{ l *ratelimit.Limiter }

func (m memoryLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	ok, wait := m.l.Allow(key)
	return ok, wait, nil
}

func (m memoryLimiter) Check(ctx context.Context, key string) (bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	ok, wait := m.l.Check(key)
	return ok, wait, nil
}

func (m memoryLimiter) Take(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.l.Take(key)
	return nil
}

func (m memoryLimiter) Give(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.l.Give(key)
	return nil
}

// limit is one limit of the handlers: its limiter is asked for on first
// use and kept, so a store that is down at start (the shared limits on
// NATS) only refuses the attempts made while it is, and the service starts
// anyway.
type limit struct {
	limits Limits
	name   string
	rate   Rate

	mu sync.Mutex
	l  Limiter
}

// PrepareLimits asks every limit for its limiter now, at once, so that the
// first requests after a start on fresh servers do not wait for the shared
// buckets to be created (seconds each on a NATS cluster: the first sign-in
// was refused after 10 s in 2 of 8 fresh starts). A limit that fails here
// stays lazy and is asked again on first use.
func (h *Handlers) PrepareLimits(ctx context.Context) error {
	all := []*limit{h.signIn.accountAddress, h.signIn.account, h.signIn.address, h.signIn.known,
		h.registration, h.picturePolicy.uploads}
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, l := range all {
		wg.Go(func() {
			if _, err := l.get(ctx); err != nil {
				errs[i] = fmt.Errorf("limit %s: %w", l.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func newLimit(limits Limits, name string, r Rate) *limit {
	return &limit{limits: limits, name: name, rate: r}
}

func (l *limit) get(ctx context.Context) (Limiter, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.l != nil {
		return l.l, nil
	}
	got, err := l.limits.Limiter(ctx, l.name, l.rate)
	if err != nil {
		return nil, err
	}
	l.l = got
	return got, nil
}

// allow takes a token for key; an error is the limit's store failing
// (UnavailableError).
func (l *limit) allow(ctx context.Context, key string) (bool, time.Duration, error) {
	lim, err := l.get(ctx)
	if err != nil {
		return false, 0, limitsDown(err)
	}
	ok, wait, err := lim.Allow(ctx, key)
	if err != nil {
		return false, 0, limitsDown(err)
	}
	return ok, wait, nil
}

// check says whether key has a token, without taking it.
func (l *limit) check(ctx context.Context, key string) (bool, time.Duration, error) {
	lim, err := l.get(ctx)
	if err != nil {
		return false, 0, limitsDown(err)
	}
	ok, wait, err := lim.Check(ctx, key)
	if err != nil {
		return false, 0, limitsDown(err)
	}
	return ok, wait, nil
}

// give returns a token allow took for an attempt that turned out not to
// count. Best effort: when the store fails, the attempt stays counted
// (stricter, never looser).
func (l *limit) give(ctx context.Context, key string) {
	if lim, err := l.get(ctx); err == nil {
		_ = lim.Give(context.WithoutCancel(ctx), key)
	}
}
