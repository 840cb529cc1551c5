package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/projections"
)

// lagResult is what the projection lag phase measured.
type lagResult struct {
	Users    int
	Rate     float64       // commands/s asked for
	Window   time.Duration // measured part of the schedule
	Poll     time.Duration // 0: no polling
	Timeout  time.Duration
	Commands int             // commands sent in the window and acknowledged
	PatchLat []time.Duration // their PATCH latency, sorted
	// Visible: from the PATCH response until an anonymous GET showed the
	// change, of those seen within Timeout; sorted.
	Visible   []time.Duration
	NotSeen   int
	FirstPoll int // changes already visible to the first GET after the response
	Polls     int // GETs sent for measured commands
	PollTime  time.Duration
	// Applied: from the PATCH response until the users projector, whose
	// documents serve the public profile, reported the event written (its
	// progress, which read-your-writes waits for; no HTTP); sorted.
	Applied    []time.Duration
	NotApplied int
	CPU        cpuUse
	Late       int // commands sent more than one interval after their slot
	Errors     int // failed PATCHes
	PollErrs   int // failed GETs (polling went on)
	FirstErr   error
}

// Achieved is the measured commands per second.
func (r lagResult) Achieved() float64 { return float64(r.Commands) / r.Window.Seconds() }

// PollRate is the GETs per second the pollers sent.
func (r lagResult) PollRate() float64 {
	if r.PollTime <= 0 {
		return 0
	}
	return float64(r.Polls) / r.PollTime.Seconds()
}

// VisiblePercentile is the p-th percentile of the GET-observed lag; a change
// never seen counts as the timeout, so losing changes cannot improve it.
func (r lagResult) VisiblePercentile(p float64) time.Duration {
	return percentileWithMisses(r.Visible, r.NotSeen, r.Timeout, p)
}

// AppliedPercentile is the p-th percentile of the read model lag.
func (r lagResult) AppliedPercentile(p float64) time.Duration {
	return percentileWithMisses(r.Applied, r.NotApplied, r.Timeout, p)
}

func percentileWithMisses(sorted []time.Duration, misses int, timeout time.Duration, p float64) time.Duration {
	if misses > 0 {
		sorted = slices.Clone(sorted)
		for range misses {
			sorted = append(sorted, timeout)
		}
	}
	return benchkit.Percentile(sorted, p)
}

const lagNamePrefix = "Lag Sample "

// lagSeq is the sample number in a full name the lag phase set, or -1.
func lagSeq(fullName string) int {
	rest, ok := strings.CutPrefix(fullName, lagNamePrefix)
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return n
}

// lagSample is one measured command.
type lagSample struct {
	user     int
	revision uint64 // of the user stream after the PATCH
	acked    time.Time
}

// progressPoint: at this time the users projector had applied the log up
// to pos.
type progressPoint struct {
	at  time.Time
	pos uint64
}

// benchLag sends PATCHes at a steady cfg.rate, spread round-robin over
// cfg.lagUsers users (each user's commands one after the other), for a
// warm-up and then cfg.lagDuration. After each acknowledgement a separate
// goroutine polls the user's public profile anonymously every cfg.poll
// until it shows the new full name (or a later one of the same user). In
// the same run, the users projector's progress is recorded, so that the
// lag until the read model holds the change is known without any polling.
func (s *service) benchLag(ctx context.Context, cfg config) (lagResult, error) {
	res := lagResult{Users: cfg.lagUsers, Rate: cfg.rate, Window: cfg.lagDuration, Poll: cfg.poll, Timeout: cfg.pollTimeout}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	warmup := min(cfg.warmup, time.Second)
	start := time.Now().Add(50 * time.Millisecond)
	measureFrom := start.Add(warmup)
	measureTo := measureFrom.Add(cfg.lagDuration)
	cpu := measureCPU(measureFrom, measureTo)
	projector := projections.UsersProjector().Name // its documents serve GET /v1/profiles

	// Record every advance of the users projector.
	var points []progressPoint
	var pointsMu sync.Mutex
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		progress := s.app.Progress
		var last uint64
		for {
			changed := progress.Changed()
			if pos := progress.Applied(projector); pos != last {
				pointsMu.Lock()
				points = append(points, progressPoint{at: time.Now(), pos: pos})
				pointsMu.Unlock()
				last = pos
			}
			select {
			case <-changed:
			case <-stopWatch:
				return
			}
		}
	}()
	defer func() {
		select {
		case <-stopWatch:
		default:
			close(stopWatch)
		}
		<-watchDone
	}()

	var mu sync.Mutex
	var samples []lagSample
	fail := func(err error) {
		if res.FirstErr == nil {
			res.FirstErr = err
		}
	}
	var pollers sync.WaitGroup
	poll := func(u benchUser, seq int, acked time.Time, measured bool) {
		defer pollers.Done()
		deadline := acked.Add(cfg.pollTimeout)
		polls, errs := 0, 0
		var lastErr error
		seen := time.Duration(-1)
		for ctx.Err() == nil {
			t0 := time.Now()
			name, err := s.profileFullName(ctx, u.username)
			t1 := time.Now()
			polls++
			if err != nil {
				errs++
				lastErr = err
			} else if lagSeq(name) >= seq {
				seen = t1.Sub(acked)
				break
			}
			if !t1.Before(deadline) {
				break
			}
			time.Sleep(time.Until(t0.Add(cfg.poll)))
		}
		if !measured || ctx.Err() != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		res.Polls += polls
		res.PollErrs += errs
		if lastErr != nil {
			fail(fmt.Errorf("GET /v1/profiles/%s: %w", u.username, lastErr))
		}
		if seen < 0 {
			res.NotSeen++
			return
		}
		res.Visible = append(res.Visible, seen)
		if polls == 1 {
			res.FirstPoll++
		}
	}

	var senders sync.WaitGroup
	for k := range cfg.lagUsers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			u := s.users[k]
			for i := 0; ; i++ {
				slot := start.Add(time.Duration(k+i*cfg.lagUsers) * interval)
				if !slot.Before(measureTo) || ctx.Err() != nil {
					return
				}
				time.Sleep(time.Until(slot))
				sent := time.Now()
				seq := i + 1
				rev, err := s.patchFullName(ctx, u, lagNamePrefix+strconv.Itoa(seq))
				acked := time.Now()
				measured := !sent.Before(measureFrom) && sent.Before(measureTo)
				if err != nil {
					if ctx.Err() == nil && measured {
						mu.Lock()
						res.Errors++
						fail(err)
						mu.Unlock()
					}
					continue
				}
				if measured {
					mu.Lock()
					res.Commands++
					res.PatchLat = append(res.PatchLat, acked.Sub(sent))
					samples = append(samples, lagSample{user: k, revision: rev, acked: acked})
					if sent.Sub(slot) > interval {
						res.Late++
					}
					mu.Unlock()
				}
				if cfg.poll > 0 {
					pollers.Add(1)
					go poll(u, seq, acked, measured)
				}
			}
		}()
	}
	senders.Wait()
	pollers.Wait()
	res.PollTime = time.Since(measureFrom)
	res.CPU = <-cpu
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// Where each measured event is in the log, then when the projector
	// got there (waiting up to the timeout for the last ones).
	positions := make([]uint64, len(samples))
	var highest uint64
	for i, smp := range samples {
		pos, err := s.eventPosition(ctx, events.UserStream(s.users[smp.user].id), smp.revision)
		if err != nil {
			return res, fmt.Errorf("position of a measured event: %w", err)
		}
		positions[i] = pos
		highest = max(highest, pos)
	}
	waitCtx, cancel := context.WithTimeout(ctx, cfg.pollTimeout)
	_ = s.app.Progress.Wait(waitCtx, projector, highest)
	cancel()
	close(stopWatch)
	<-watchDone
	for i, smp := range samples {
		j := sort.Search(len(points), func(j int) bool { return points[j].pos >= positions[i] })
		if j == len(points) {
			res.NotApplied++
			continue
		}
		res.Applied = append(res.Applied, max(points[j].at.Sub(smp.acked), 0))
	}
	slices.Sort(res.PatchLat)
	slices.Sort(res.Visible)
	slices.Sort(res.Applied)
	return res, nil
}

// eventPosition is the $all commit position of stream's event at revision.
func (s *service) eventPosition(ctx context.Context, stream string, revision uint64) (uint64, error) {
	rs, err := s.app.Platform.ESDB.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Revision(revision)}, 1)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	ev, err := rs.Recv()
	if err != nil {
		return 0, fmt.Errorf("%s@%d: %w", stream, revision, err)
	}
	if ev.Event == nil || ev.Event.EventNumber != revision {
		return 0, errors.New(stream + "@" + strconv.FormatUint(revision, 10) + ": not found")
	}
	return ev.Event.Position.Commit, nil
}
