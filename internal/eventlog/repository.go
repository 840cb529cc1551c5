package eventlog

import (
	"container/list"
	"context"
	"encoding/json"
	"sync"

	"github.com/accountd/accountd/events"
)

// Fold rebuilds state from one past event; it must be pure.
type Fold[S any] func(state S, e Recorded) (S, error)

// Repository loads aggregate state by folding a stream's events, keeping a
// bounded cache so a load reads only the events it has not seen.
type Repository[S any] struct {
	log  *Log
	fold Fold[S]

	mu       sync.Mutex
	capacity int
	order    *list.List // front: most recently used
	entries  map[string]*list.Element
}

type cached[S any] struct {
	stream  string
	state   S
	version Version
}

// NewRepository caches up to capacity streams.
func NewRepository[S any](log *Log, fold Fold[S], capacity int) *Repository[S] {
	return &Repository[S]{log: log, fold: fold, capacity: max(capacity, 1), order: list.New(), entries: map[string]*list.Element{}}
}

// Load returns the stream's state and version (NoStream if it has no events).
// With fresh=false a cached state is trusted as is; the append's expected
// version catches a stale one, and the caller reloads with fresh=true.
func (r *Repository[S]) Load(ctx context.Context, stream string, fresh bool) (S, Version, error) {
	state, version, ok := r.get(stream)
	if ok && !fresh {
		return state, version, nil
	}
	evs, err := r.log.Read(ctx, stream, version)
	if err != nil {
		return state, version, err
	}
	for _, e := range evs {
		if state, err = r.fold(state, e); err != nil {
			return state, version, err
		}
		version = Version(e.Revision)
	}
	r.put(stream, state, version)
	return state, version, nil
}

// Append writes events and, on success, folds them into the cache.
func (r *Repository[S]) Append(ctx context.Context, stream string, expected Version, state S, meta events.Metadata, evs ...NewEvent) (Result, error) {
	res, err := r.log.Append(ctx, stream, expected, meta, evs...)
	if err != nil {
		r.forget(stream)
		return res, err
	}
	first := res.Revision + 1 - uint64(len(evs))
	for i, e := range evs {
		rec, err := encoded(e)
		if err != nil {
			r.forget(stream)
			return res, nil // the write stands; the next load reads it back
		}
		rec.Stream, rec.Revision, rec.Metadata = stream, first+uint64(i), meta
		if state, err = r.fold(state, rec); err != nil {
			r.forget(stream)
			return res, nil
		}
	}
	r.put(stream, state, Version(res.Revision))
	return res, nil
}

func (r *Repository[S]) get(stream string) (S, Version, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.entries[stream]; ok {
		r.order.MoveToFront(el)
		c := el.Value.(*cached[S])
		return c.state, c.version, true
	}
	var zero S
	return zero, NoStream, false
}

func (r *Repository[S]) put(stream string, state S, version Version) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.entries[stream]; ok {
		c := el.Value.(*cached[S])
		if version >= c.version {
			c.state, c.version = state, version
		}
		r.order.MoveToFront(el)
		return
	}
	r.entries[stream] = r.order.PushFront(&cached[S]{stream: stream, state: state, version: version})
	for r.order.Len() > r.capacity {
		oldest := r.order.Back()
		r.order.Remove(oldest)
		delete(r.entries, oldest.Value.(*cached[S]).stream)
	}
}

func (r *Repository[S]) forget(stream string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.entries[stream]; ok {
		r.order.Remove(el)
		delete(r.entries, stream)
	}
}

// encoded is the event as a reader would see it, for folding after append.
func encoded(e NewEvent) (Recorded, error) {
	data, err := json.Marshal(e.Data)
	return Recorded{Type: e.Type, Data: data}, err
}
