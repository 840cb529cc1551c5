package benchkit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	s := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]time.Duration{50: 5, 90: 9, 99: 10, 100: 10, 1: 1} {
		if got := Percentile(s, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty samples")
	}
}

func TestClosedLoopCountsTheWindowAndStopsWorkersAtErrors(t *testing.T) {
	var calls atomic.Int64
	from := time.Now().Add(20 * time.Millisecond)
	to := from.Add(50 * time.Millisecond)
	s, err := ClosedLoop(context.Background(), 3, from, to, func(worker int) Op {
		return func(ctx context.Context, n int) error {
			calls.Add(1)
			if worker == 2 && n == 1 {
				return errors.New("broken")
			}
			time.Sleep(time.Millisecond)
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors != 1 || s.FirstErr == nil || len(s.Lat) == 0 || int64(len(s.Lat)) >= calls.Load() {
		t.Fatalf("samples %d, errors %d, calls %d", len(s.Lat), s.Errors, calls.Load())
	}
	for i := 1; i < len(s.Lat); i++ {
		if s.Lat[i] < s.Lat[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
}
