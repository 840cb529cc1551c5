package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/internal/benchkit"
)

// benchWriters runs b.N appends spread over writers goroutines, each with
// its own appendFunc, and reports p50/p99 latency next to ns/op.
func benchWriters(b *testing.B, writers int, newWriter func(i int) appendFunc) {
	b.Helper()
	ctx := context.Background()
	fns := make([]appendFunc, writers)
	for i := range fns {
		fns[i] = newWriter(i)
	}
	// One untimed round so connections and streams exist.
	for _, fn := range fns {
		if err := fn(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lats := make([][]time.Duration, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := fns[i](ctx); err != nil {
					errs[i] = err
					return
				}
				lats[i] = append(lats[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	b.ReportMetric(float64(benchkit.Percentile(all, 50))/1e6, "p50-ms")
	b.ReportMetric(float64(benchkit.Percentile(all, 99))/1e6, "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

func benchESDB(b *testing.B, writers int) {
	srv, err := startESDB(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	client, err := newESDBClient(srv)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	payload := makePayload(200)
	benchWriters(b, writers, func(i int) appendFunc {
		return esdbAppender(client, fmt.Sprintf("bench-%d", i), payload)
	})
}

// BenchmarkAppend16 is the esbench append workload at 16 writers sharing one
// official client: go test -bench=Append16 ./cmd/esbench/
func BenchmarkAppend16(b *testing.B)  { benchESDB(b, 16) }
func BenchmarkAppend256(b *testing.B) { benchESDB(b, 256) }

func BenchmarkJetStreamPublish16(b *testing.B) {
	ns, err := startNATS(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer stopNATS(ns)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: benchStream, Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		b.Fatal(err)
	}
	payload := makePayload(200)
	benchWriters(b, 16, func(i int) appendFunc {
		return jetStreamAppender(js, fmt.Sprintf("bench.%d", i), payload)
	})
}

// TestQuickRun runs every phase of the command briefly to check that it
// works end to end; timings are not asserted.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and writes to disk")
	}
	cfg, err := parseFlags([]string{"--writers=1,4", "--duration=1s", "--warmup=50ms", "--events=3000", "--data-dir=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := bench(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	for _, s := range res.appends {
		if s.Err != nil {
			t.Fatalf("%s: %v", s.Name, s.Err)
		}
		for _, l := range s.Levels {
			if l.Errors > 0 || l.Ops == 0 {
				t.Fatalf("%s, %d writers: %d appends, %d errors (%v)", s.Name, l.Writers, l.Ops, l.Errors, l.FirstErr)
			}
		}
	}
	if res.catchUpErr != nil {
		t.Fatal(res.catchUpErr)
	}
	for _, r := range res.catchUp.Reads {
		if r.Err != nil || r.Events != cfg.events {
			t.Fatalf("%s: %d events, err %v", r.Name, r.Events, r.Err)
		}
	}
}
