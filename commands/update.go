package commands

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/lru"
	"github.com/accountd/accountd/internal/ratelimit"
)

// maxAttempts bounds how often one command decides again after losing a
// race for its stream to another process. Within this process writers of
// one stream take turns, so races come only from other replicas.
const maxAttempts = 8

// outcome is what an update left behind.
type outcome[S any] struct {
	State    S
	Revision uint64 // the stream's revision after the update
	Position uint64 // $all position of the last event written; 0: nothing written
	Events   []events.Recorded
}

// update is the one path by which commands change the log: load the
// stream's state, decide, append with the revision decided on, and on a
// lost race reload from the log and decide again. A decision made on cached
// state counts only if its append succeeds (the expected revision proves the
// cache was current); a refusal or a no-op is confirmed on state read from
// the log first. ifMatch, when set, is the revision the caller saw.
func update[S any](ctx context.Context, h *Handlers, r *repository[S], stream string, ifMatch *uint64, meta events.Metadata,
	decide func(S) ([]events.Payload, error)) (outcome[S], error) {
	unlock := r.locks.Lock(stream)
	defer unlock()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		fresh := attempt > 0
		state, version, err := r.load(ctx, stream, fresh)
		if err != nil {
			return outcome[S]{}, err
		}
		current := outcome[S]{State: state, Revision: uint64(max(version, 0))}
		if ifMatch != nil && Version(*ifMatch) != version {
			if fresh {
				return current, ErrPreconditionFailed
			}
			continue
		}
		payloads, err := decide(state)
		if err != nil || len(payloads) == 0 {
			if fresh {
				return current, err
			}
			continue
		}
		res, err := h.log.Append(ctx, stream, version, meta, payloads...)
		if errors.Is(err, ErrWrongExpectedVersion) {
			h.metrics.Conflict(events.Category(stream))
			r.forget(stream)
			pause(ctx, attempt)
			continue
		}
		if err != nil {
			r.forget(stream) // the write may or may not have happened
			return current, err
		}
		recs := make([]events.Recorded, len(payloads))
		first := res.Revision + 1 - uint64(len(payloads))
		for i, p := range payloads {
			recs[i] = events.Recorded{Stream: stream, Revision: first + uint64(i), Position: res.Position, Type: p.EventType(), Payload: p, Metadata: meta}
			state = r.fold(state, recs[i])
		}
		r.put(stream, state, Version(res.Revision))
		noteWritten(ctx, res.Position)
		for _, o := range h.observers {
			o.Observe(recs)
		}
		return outcome[S]{State: state, Revision: res.Revision, Position: res.Position, Events: recs}, nil
	}
	return outcome[S]{}, ErrWrongExpectedVersion
}

// record appends observations that need no decision on the stream's state
// (a use of a credential the caller has just checked): no load, no
// expected revision, so recording a use never reads the log. The stream's
// cached state is dropped; its next load reads the new events.
func record[S any](ctx context.Context, h *Handlers, r *repository[S], stream string, meta events.Metadata, payloads ...events.Payload) (Appended, error) {
	res, err := h.log.Append(ctx, stream, AnyVersion, meta, payloads...)
	r.forget(stream)
	if err != nil {
		return Appended{}, err
	}
	recs := make([]events.Recorded, len(payloads))
	first := res.Revision + 1 - uint64(len(payloads))
	for i, p := range payloads {
		recs[i] = events.Recorded{Stream: stream, Revision: first + uint64(i), Position: res.Position, Type: p.EventType(), Payload: p, Metadata: meta}
	}
	noteWritten(ctx, res.Position)
	for _, o := range h.observers {
		o.Observe(recs)
	}
	return res, nil
}

// pause spreads out retries of writers racing from several processes.
func pause(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(1<<min(attempt, 5))) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// repository loads aggregate state by folding a stream's events, keeping a
// bounded cache so that a load reads only the events it has not seen. The
// cache is this process's own and harmless with replicas: a decision on
// cached state counts only if its append at that revision succeeds.
type repository[S any] struct {
	log  EventLog
	fold func(S, events.Recorded) S
	// locks let writers of one stream in this process take turns, so they
	// queue instead of racing each other through the event store.
	locks *ratelimit.Locks
	cache *lru.Cache[string, cached[S]]
}

type cached[S any] struct {
	state   S
	version Version
}

func newRepository[S any](log EventLog, fold func(S, events.Recorded) S, capacity int) *repository[S] {
	return &repository[S]{log: log, fold: fold, locks: ratelimit.NewLocks(), cache: lru.New[string, cached[S]](capacity, nil)}
}

// load returns the stream's state and version (NoStream if it has no
// events). Cached state is returned as is unless fresh is set; then the
// events after it are read from the log.
func (r *repository[S]) load(ctx context.Context, stream string, fresh bool) (S, Version, error) {
	state, version, ok := r.get(stream)
	if ok && !fresh {
		return state, version, nil
	}
	recs, err := r.log.ReadStream(ctx, stream, version)
	if err != nil {
		return state, version, err
	}
	for _, e := range recs {
		state = r.fold(state, e)
		version = Version(e.Revision)
	}
	r.put(stream, state, version)
	return state, version, nil
}

func (r *repository[S]) get(stream string) (S, Version, bool) {
	if c, ok := r.cache.Get(stream); ok {
		return c.state, c.version, true
	}
	var zero S
	return zero, NoStream, false
}

// put caches the state unless a later one is cached already.
func (r *repository[S]) put(stream string, state S, version Version) {
	r.cache.Update(stream, func(old cached[S], ok bool) (cached[S], bool) {
		return cached[S]{state: state, version: version}, !ok || version >= old.version
	})
}

func (r *repository[S]) forget(stream string) { r.cache.Remove(stream) }
