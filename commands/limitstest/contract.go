// Package limitstest is the contract every commands.Limits must pass: the
// in-memory limits and the shared ones (JetStream KV) run the same suite.
package limitstest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
)

// Clock is a test clock that moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run runs the contract against limits made by open on the clock now, one
// per subtest.
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) commands.Limits) {
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, limits commands.Limits, clock *Clock)
	}{
		{"a fresh key allows the burst, then says how long until the next", allowBurst},
		{"keys and names have buckets of their own", ownBuckets},
		{"the same name gives the same buckets", sameName},
		{"check takes nothing", checkTakesNothing},
		{"take goes into debt at most burst deep and give returns one", takeAndGive},
		{"give never fills past the burst", giveCapped},
		{"time refills", timeRefills},
		{"racing callers take each token once", racing},
		{"a cancelled context fails", cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			clock := &Clock{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
			tt.run(t, ctx, open(t, clock.Now), clock)
		})
	}
}

var names atomic.Int64

// name is a limiter name no other subtest uses (the shared limits of one
// server outlive a subtest).
func name(base string) string {
	return fmt.Sprintf("contract-%s-%d-%d", base, time.Now().UnixNano(), names.Add(1))
}

func limiter(t *testing.T, ctx context.Context, limits commands.Limits, name string, r commands.Rate) commands.Limiter {
	t.Helper()
	l, err := limits.Limiter(ctx, name, r)
	if err != nil {
		t.Fatalf("limiter %s: %v", name, err)
	}
	return l
}

// expect checks one answer: allowed, or refused with about this wait.
func expect(t *testing.T, what string, ok bool, wait time.Duration, err error, wantOK bool, wantWait time.Duration) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if ok != wantOK {
		t.Fatalf("%s: allowed %v, want %v (wait %s)", what, ok, wantOK, wait)
	}
	if d := wait - wantWait; d > time.Millisecond || d < -time.Millisecond {
		t.Fatalf("%s: wait %s, want %s", what, wait, wantWait)
	}
}

func allowBurst(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	l := limiter(t, ctx, limits, name("burst"), commands.Rate{Burst: 3, Every: 10 * time.Second})
	for i := range 3 {
		ok, wait, err := l.Allow(ctx, "k")
		expect(t, fmt.Sprintf("attempt %d", i+1), ok, wait, err, true, 0)
	}
	ok, wait, err := l.Allow(ctx, "k")
	expect(t, "attempt past the burst", ok, wait, err, false, 10*time.Second)
}

func ownBuckets(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	r := commands.Rate{Burst: 1, Every: time.Minute}
	a := limiter(t, ctx, limits, name("a"), r)
	b := limiter(t, ctx, limits, name("b"), r)
	ok, wait, err := a.Allow(ctx, "k")
	expect(t, "a/k", ok, wait, err, true, 0)
	ok, wait, err = a.Allow(ctx, "k")
	expect(t, "a/k again", ok, wait, err, false, time.Minute)
	ok, wait, err = a.Allow(ctx, "other key")
	expect(t, "a/other key", ok, wait, err, true, 0)
	ok, wait, err = b.Allow(ctx, "k")
	expect(t, "b/k", ok, wait, err, true, 0)
}

func sameName(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	n, r := name("same"), commands.Rate{Burst: 2, Every: time.Minute}
	first := limiter(t, ctx, limits, n, r)
	second := limiter(t, ctx, limits, n, r)
	ok, wait, err := first.Allow(ctx, "k")
	expect(t, "first", ok, wait, err, true, 0)
	ok, wait, err = second.Allow(ctx, "k")
	expect(t, "second", ok, wait, err, true, 0)
	ok, wait, err = first.Allow(ctx, "k")
	expect(t, "third, through either", ok, wait, err, false, time.Minute)
}

func checkTakesNothing(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	l := limiter(t, ctx, limits, name("check"), commands.Rate{Burst: 1, Every: time.Minute})
	for i := range 3 {
		ok, wait, err := l.Check(ctx, "k")
		expect(t, fmt.Sprintf("check %d", i+1), ok, wait, err, true, 0)
	}
	ok, wait, err := l.Allow(ctx, "k")
	expect(t, "allow after checks", ok, wait, err, true, 0)
	ok, wait, err = l.Check(ctx, "k")
	expect(t, "check of an empty bucket", ok, wait, err, false, time.Minute)
}

func takeAndGive(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	l := limiter(t, ctx, limits, name("debt"), commands.Rate{Burst: 2, Every: 20 * time.Second})
	steps := []struct {
		name     string
		do       func() error
		wantOK   bool
		wantWait time.Duration
	}{
		{"one take", func() error { return l.Take(ctx, "k") }, true, 0},
		{"two takes empty it", func() error { return l.Take(ctx, "k") }, false, 20 * time.Second},
		{"a third goes into debt", func() error { return l.Take(ctx, "k") }, false, 40 * time.Second},
		{"a fourth is as deep as the burst", func() error { return l.Take(ctx, "k") }, false, 60 * time.Second},
		{"a fifth goes no deeper", func() error { return l.Take(ctx, "k") }, false, 60 * time.Second},
		{"a token given back shortens the wait", func() error { return l.Give(ctx, "k") }, false, 40 * time.Second},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		ok, wait, err := l.Check(ctx, "k")
		expect(t, s.name, ok, wait, err, s.wantOK, s.wantWait)
	}
}

func giveCapped(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	l := limiter(t, ctx, limits, name("cap"), commands.Rate{Burst: 2, Every: time.Minute})
	for range 3 {
		if err := l.Give(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		ok, wait, err := l.Allow(ctx, "k")
		expect(t, fmt.Sprintf("attempt %d", i+1), ok, wait, err, true, 0)
	}
	ok, wait, err := l.Allow(ctx, "k")
	expect(t, "past the burst, whatever was given", ok, wait, err, false, time.Minute)
}

func timeRefills(t *testing.T, ctx context.Context, limits commands.Limits, clock *Clock) {
	l := limiter(t, ctx, limits, name("refill"), commands.Rate{Burst: 2, Every: 30 * time.Second})
	for range 2 {
		if ok, _, err := l.Allow(ctx, "k"); err != nil || !ok {
			t.Fatalf("burst refused: %v", err)
		}
	}
	clock.Advance(10 * time.Second)
	ok, wait, err := l.Allow(ctx, "k")
	expect(t, "a third of the way", ok, wait, err, false, 20*time.Second)
	clock.Advance(20 * time.Second)
	ok, wait, err = l.Allow(ctx, "k")
	expect(t, "one token later", ok, wait, err, true, 0)
	ok, wait, err = l.Allow(ctx, "k")
	expect(t, "only one", ok, wait, err, false, 30*time.Second)
	clock.Advance(time.Hour)
	for i := range 2 {
		ok, wait, err = l.Allow(ctx, "k")
		expect(t, fmt.Sprintf("full again, attempt %d", i+1), ok, wait, err, true, 0)
	}
}

func racing(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	l := limiter(t, ctx, limits, name("race"), commands.Rate{Burst: 10, Every: time.Hour})
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			ok, _, err := l.Allow(ctx, "k")
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Fatalf("%d of 30 racing attempts allowed, want exactly 10", got)
	}
}

func cancelled(t *testing.T, ctx context.Context, limits commands.Limits, _ *Clock) {
	l := limiter(t, ctx, limits, name("cancel"), commands.Rate{Burst: 1, Every: time.Minute})
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := l.Allow(gone, "k"); err == nil {
		t.Fatal("allow with a cancelled context succeeded")
	}
	if _, _, err := l.Check(gone, "k"); err == nil {
		t.Fatal("check with a cancelled context succeeded")
	}
	// Nothing was taken.
	ok, wait, err := l.Allow(ctx, "k")
	expect(t, "after the cancelled attempts", ok, wait, err, true, 0)
}
