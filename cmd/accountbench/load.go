package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/benchkit"
)

// opFunc performs one operation (PATCH, append) and returns once it is
// acknowledged; n counts the worker's calls from 0.
type opFunc = benchkit.Op

// loadResult is what one closed-loop phase measured.
type loadResult struct {
	Name     string
	Workers  int
	Ops      int             // operations completed inside the measured window
	Window   time.Duration   // length of the measured window
	Lat      []time.Duration // latency of each counted operation, sorted
	CPU      cpuUse          // in the measured window
	Errors   int
	FirstErr error
	// Backlog is the most messages any projector had pending (delivered
	// but unacknowledged, or not yet delivered) at the window's start and
	// end; -1 if not sampled.
	BacklogStart, BacklogEnd int
}

// Rate is acknowledged operations per second.
func (r loadResult) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Window.Seconds()
}

// CPUPerOp is the process CPU time per counted operation.
func (r loadResult) CPUPerOp() time.Duration {
	if r.Ops == 0 {
		return 0
	}
	return r.CPU.Self / time.Duration(r.Ops)
}

// Percentile returns the p-th percentile latency (nearest rank).
func (r loadResult) Percentile(p float64) time.Duration { return benchkit.Percentile(r.Lat, p) }

// measureCPU samples CPU use between from and to; the answer arrives on the
// channel at to.
func measureCPU(from, to time.Time) <-chan cpuUse {
	cpu := make(chan cpuUse, 1)
	go func() {
		time.Sleep(time.Until(from))
		s := sampleCPU()
		time.Sleep(time.Until(to))
		cpu <- s.until(sampleCPU())
	}()
	return cpu
}

// runClosedLoop runs workers concurrent closed-loop workers (one operation in
// flight each) for warmup, then measures for duration. An operation counts
// when it completes inside the measured window. A worker stops at its first
// error, which is reported rather than retried.
func runClosedLoop(ctx context.Context, name string, workers int, warmup, duration time.Duration, backlog func() int, op func(worker int) opFunc) (loadResult, error) {
	start := time.Now()
	measureFrom := start.Add(warmup)
	measureTo := measureFrom.Add(duration)
	cpu := measureCPU(measureFrom, measureTo)
	backlogs := make(chan [2]int, 1)
	go func() {
		if backlog == nil {
			backlogs <- [2]int{-1, -1}
			return
		}
		time.Sleep(time.Until(measureFrom))
		first := backlog()
		time.Sleep(time.Until(measureTo))
		backlogs <- [2]int{first, backlog()}
	}()
	samples, err := benchkit.ClosedLoop(ctx, workers, measureFrom, measureTo, op)
	if err != nil {
		return loadResult{}, err
	}
	res := loadResult{Name: name, Workers: workers, Window: duration, CPU: <-cpu,
		Lat: samples.Lat, Ops: len(samples.Lat), Errors: samples.Errors, FirstErr: samples.FirstErr}
	b := <-backlogs
	res.BacklogStart, res.BacklogEnd = b[0], b[1]
	return res, nil
}

// benchPatches: each client, signed in as its own user, sets its full name
// to a new value over and over.
func (s *service) benchPatches(ctx context.Context, cfg config) (loadResult, error) {
	return runClosedLoop(ctx, "PATCH /v1/me (full_name), HTTP", cfg.clients, cfg.warmup, cfg.duration, s.projectorBacklog(ctx), func(i int) opFunc {
		u := s.users[i]
		return func(ctx context.Context, n int) error {
			_, err := s.patchFullName(ctx, u, fmt.Sprintf("Bench Client %d No %d", i, n))
			return err
		}
	})
}

// benchAppends: each writer appends one small JSON event at a time to its
// own stream through the service's esdb client, expecting any revision. The
// event has the size and shape of a profile update (data and metadata), but
// is encoded once, up front.
func (s *service) benchAppends(ctx context.Context, cfg config) (loadResult, error) {
	name := "Bench Client 0 No 123456"
	data, err := json.Marshal(events.UserProfileUpdatedV1{UserID: uuid.NewString(), Profile: events.Profile{events.FieldFullName: name}})
	if err != nil {
		return loadResult{}, err
	}
	meta, err := json.Marshal(events.Metadata{
		SchemaVersion: events.SchemaVersion, Actor: uuid.NewString(), CorrelationID: uuid.NewString(),
		CausationID: uuid.NewString(), ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1", Time: time.Now().UTC(),
	})
	if err != nil {
		return loadResult{}, err
	}
	client := s.app.Platform.ESDB
	opts := esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}
	title := fmt.Sprintf("raw append, esdb client (%d+%d-byte JSON event)", len(data), len(meta))
	return runClosedLoop(ctx, title, cfg.writers, cfg.warmup, cfg.duration, nil, func(i int) opFunc {
		stream := fmt.Sprintf("accountbench-%d", i)
		return func(ctx context.Context, _ int) error {
			_, err := client.AppendToStream(ctx, stream, opts, esdb.EventData{
				EventID:     uuid.New(),
				EventType:   "accountbench.appended",
				ContentType: esdb.ContentTypeJson,
				Data:        data,
				Metadata:    meta,
			})
			return err
		}
	})
}
