package supervise

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type countingMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingMetrics) Restarted(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[name]++
}

func TestRestartsWithBackoffUntilCancelled(t *testing.T) {
	m := &countingMetrics{n: map[string]int{}}
	s := New(Config{Metrics: m, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	var starts []time.Time
	var mu sync.Mutex
	healthy := make(chan struct{})
	s.Go(ctx, "flaky", func(ctx context.Context) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		switch runs.Add(1) {
		case 1:
			return errors.New("boom")
		case 2, 3:
			return nil // returning at all while it should run is a failure too
		}
		close(healthy)
		<-ctx.Done()
		return ctx.Err()
	})
	select {
	case <-healthy:
	case <-time.After(5 * time.Second):
		t.Fatal("component never ran healthy")
	}
	st, _ := s.Of("flaky")
	if st.Restarts != 3 || !st.Running || st.LastError != "stopped without an error" {
		t.Fatalf("status %+v", st)
	}
	if m.n["flaky"] != 3 {
		t.Fatalf("metrics %v", m.n)
	}
	// Backoff doubles: 10, 20, 40 ms between the starts.
	mu.Lock()
	for i, want := range []time.Duration{10, 20, 40} {
		if gap := starts[i+1].Sub(starts[i]); gap < want*time.Millisecond {
			t.Errorf("restart %d after %s, want at least %s", i+1, gap, want*time.Millisecond)
		}
	}
	mu.Unlock()
	cancel()
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after cancel")
	}
	if st, _ := s.Of("flaky"); st.Running || st.Restarts != 3 {
		t.Fatalf("after stop: %+v", st)
	}
}
