package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// appendFunc performs one durable append and returns once it is acknowledged.
type appendFunc func(ctx context.Context) error

// levelResult is what one concurrency level of an append workload measured.
type levelResult struct {
	Writers  int
	Ops      int             // appends completed inside the measured window
	Window   time.Duration   // length of the measured window
	Lat      []time.Duration // latency of each counted append, sorted
	CPU      time.Duration   // process CPU time (client and server) used in the window
	Errors   int
	FirstErr error
}

// Rate is acknowledged appends per second.
func (r levelResult) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Window.Seconds()
}

// CPUPerOp is the process CPU time per counted append.
func (r levelResult) CPUPerOp() time.Duration {
	if r.Ops == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Ops)
}

// Percentile returns the p-th percentile (0 < p <= 100) latency, nearest rank.
func (r levelResult) Percentile(p float64) time.Duration {
	return percentile(r.Lat, p)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// runLevel runs writers concurrent closed-loop appenders (one append in
// flight each) for warmup, then measures for duration. An append counts when
// it completes inside the measured window; its latency is sampled. Each
// writer gets its own appendFunc from newWriter (its own stream, and possibly
// its own client).
func runLevel(ctx context.Context, writers int, warmup, duration time.Duration, newWriter func(i int) (appendFunc, error)) (levelResult, error) {
	fns := make([]appendFunc, writers)
	for i := range fns {
		fn, err := newWriter(i)
		if err != nil {
			return levelResult{}, fmt.Errorf("writer %d: %w", i, err)
		}
		fns[i] = fn
	}
	type writerStats struct {
		lat    []time.Duration
		errors int
		err    error
	}
	stats := make([]writerStats, writers)
	start := time.Now()
	measureFrom := start.Add(warmup)
	measureTo := measureFrom.Add(duration)
	// Sample process CPU time at the window's edges.
	cpu := make(chan time.Duration, 1)
	go func() {
		time.Sleep(time.Until(measureFrom))
		from := processCPU()
		time.Sleep(time.Until(measureTo))
		cpu <- processCPU() - from
	}()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &stats[i]
			for ctx.Err() == nil {
				t0 := time.Now()
				err := fns[i](ctx)
				t1 := time.Now()
				if err != nil {
					// Errors are not expected; stop this writer rather than
					// spin on a broken server.
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
		return levelResult{}, err
	}
	res := levelResult{Writers: writers, Window: duration, CPU: <-cpu}
	for _, st := range stats {
		res.Lat = append(res.Lat, st.lat...)
		res.Errors += st.errors
		if res.FirstErr == nil {
			res.FirstErr = st.err
		}
	}
	res.Ops = len(res.Lat)
	slices.Sort(res.Lat)
	return res, nil
}

// settle waits, up to limit, until the process is nearly idle, so that
// background work left by the previous step (Pebble flushes and compactions,
// connection teardown) is not counted against the next measurement.
func settle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c0 := processCPU()
		time.Sleep(100 * time.Millisecond)
		if processCPU()-c0 < 5*time.Millisecond {
			return
		}
	}
}
