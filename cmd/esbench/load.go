package main

import (
	"context"
	"fmt"
	"time"

	"github.com/accountd/accountd/internal/benchkit"
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
	return benchkit.Percentile(r.Lat, p)
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
	measureFrom := time.Now().Add(warmup)
	measureTo := measureFrom.Add(duration)
	// Sample process CPU time at the window's edges.
	cpu := make(chan time.Duration, 1)
	go func() {
		time.Sleep(time.Until(measureFrom))
		from := benchkit.ProcessCPU()
		time.Sleep(time.Until(measureTo))
		cpu <- benchkit.ProcessCPU() - from
	}()
	samples, err := benchkit.ClosedLoop(ctx, writers, measureFrom, measureTo, func(i int) benchkit.Op {
		return func(ctx context.Context, _ int) error { return fns[i](ctx) }
	})
	if err != nil {
		return levelResult{}, err
	}
	return levelResult{Writers: writers, Window: duration, CPU: <-cpu, Lat: samples.Lat, Ops: len(samples.Lat),
		Errors: samples.Errors, FirstErr: samples.FirstErr}, nil
}

// settle waits, up to limit, until the process is nearly idle, so that
// background work left by the previous step (Pebble flushes and compactions,
// connection teardown) is not counted against the next measurement.
func settle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c0 := benchkit.ProcessCPU()
		time.Sleep(100 * time.Millisecond)
		if benchkit.ProcessCPU()-c0 < 5*time.Millisecond {
			return
		}
	}
}
