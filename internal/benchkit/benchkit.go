// Package benchkit holds what the benchmark commands share: closed-loop
// load with latency samples, percentiles, and process CPU time.
package benchkit

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Op performs one operation and returns once it is acknowledged; n counts
// the worker's calls from 0.
type Op func(ctx context.Context, n int) error

// Samples is what a closed-loop run measured.
type Samples struct {
	Lat      []time.Duration // latency of each operation completed in the window, sorted
	Errors   int
	FirstErr error
}

// ClosedLoop runs workers concurrent workers, one operation in flight each,
// from now until measureTo. An operation counts when it completes inside
// [measureFrom, measureTo). A worker stops at its first error, which is
// reported rather than retried.
func ClosedLoop(ctx context.Context, workers int, measureFrom, measureTo time.Time, op func(worker int) Op) (Samples, error) {
	type workerStats struct {
		lat    []time.Duration
		errors int
		err    error
	}
	stats := make([]workerStats, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &stats[i]
			fn := op(i)
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				err := fn(ctx, n)
				t1 := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						st.errors++
						st.err = err
					}
					return
				}
				if !t1.Before(measureFrom) && t1.Before(measureTo) {
					st.lat = append(st.lat, t1.Sub(t0))
				}
				if !t1.Before(measureTo) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Samples{}, err
	}
	var s Samples
	for _, st := range stats {
		s.Lat = append(s.Lat, st.lat...)
		s.Errors += st.errors
		if s.FirstErr == nil {
			s.FirstErr = st.err
		}
	}
	slices.Sort(s.Lat)
	return s, nil
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted samples,
// nearest rank.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
