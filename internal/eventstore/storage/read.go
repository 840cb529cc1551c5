package storage

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/cockroachdb/pebble"
)

// ReadAll returns up to limit events of $all starting at position from
// (inclusive) in the given direction. Use math.MaxUint64 as from to read
// backwards from the end.
func (s *Store) ReadAll(from uint64, backwards bool, limit int) ([]RecordedEvent, error) {
	committed := s.committed.Load()
	if limit <= 0 || committed == 0 {
		return nil, nil
	}
	lower, upper := uint64(1), committed
	if backwards {
		upper = min(from, committed)
	} else {
		lower = max(from, 1)
	}
	if lower > upper {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(lower), UpperBound: eventKeyAfter(upper)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([]RecordedEvent, 0, min(limit, 512))
	valid := it.First()
	if backwards {
		valid = it.Last()
	}
	for ; valid && len(out) < limit; valid = step(it, backwards) {
		e, err := decodeEvent(binary.BigEndian.Uint64(it.Key()[1:]), it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, it.Error()
}

func step(it *pebble.Iterator, backwards bool) bool {
	if backwards {
		return it.Prev()
	}
	return it.Next()
}

func eventKeyAfter(pos uint64) []byte {
	if pos == math.MaxUint64 {
		return []byte{tagEvent + 1}
	}
	return eventKey(pos + 1)
}

// StreamState describes a stream as readers see it.
type StreamState struct {
	LastRevision int64 // -1: never written
	Tombstoned   bool
	SoftDeleted  bool
}

// Exists: a read would find it (it may still show no events).
func (st StreamState) Exists() bool {
	return st.LastRevision >= 0 && !st.SoftDeleted && !st.Tombstoned
}

// State returns the stream's current state.
func (s *Store) State(stream string) (StreamState, error) {
	h, err := s.readHead(stream)
	if err != nil {
		return StreamState{}, err
	}
	return StreamState{LastRevision: h.LastRevision, Tombstoned: h.Tombstoned, SoftDeleted: h.softDeleted()}, nil
}

func (s *Store) readHead(stream string) (streamHead, error) {
	v, closer, err := s.db.Get(headKey(stream))
	if errors.Is(err, pebble.ErrNotFound) {
		return newHead(), nil
	}
	if err != nil {
		return newHead(), err
	}
	defer closer.Close()
	return decodeHead(v)
}

// ReadStream returns up to limit visible events of stream starting at
// revision from (inclusive) in the given direction; math.MaxUint64 reads
// backwards from the end. Visibility follows the stream's metadata ($tb,
// $maxCount, $maxAge; metadata streams keep only their last event).
// A tombstoned stream gives *StreamDeletedError, a missing or soft-deleted
// one ErrStreamNotFound.
func (s *Store) ReadStream(stream string, from uint64, backwards bool, limit int) ([]RecordedEvent, error) {
	h, err := s.readHead(stream)
	if err != nil {
		return nil, err
	}
	if h.Tombstoned {
		return nil, &StreamDeletedError{Stream: stream}
	}
	if h.LastRevision < 0 || h.softDeleted() {
		return nil, ErrStreamNotFound
	}
	return s.readRevisions(stream, h, from, backwards, limit, false)
}

// ReadStreamForSubscription reads forwards from revision from like
// ReadStream, but a missing or soft-deleted stream is simply empty, and on a
// tombstoned stream it returns the remaining events followed by the
// tombstone event with tombstoned=true.
func (s *Store) ReadStreamForSubscription(stream string, from uint64, limit int) (events []RecordedEvent, tombstoned bool, err error) {
	h, err := s.readHead(stream)
	if err != nil {
		return nil, false, err
	}
	if h.LastRevision < 0 && !h.Tombstoned {
		return nil, false, nil
	}
	if h.softDeleted() && !h.Tombstoned {
		return nil, false, nil
	}
	events, err = s.readRevisions(stream, h, from, false, limit, h.Tombstoned)
	if err != nil {
		return nil, false, err
	}
	if h.Tombstoned && (len(events) == 0 || events[len(events)-1].Revision == DeletedStreamRevision) {
		return events, true, nil
	}
	return events, false, nil
}

func (s *Store) readRevisions(stream string, h streamHead, from uint64, backwards bool, limit int, withTombstone bool) ([]RecordedEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	meta := parseMetadata(h.Metadata)
	var minRev int64
	if meta.TruncateBefore > 0 {
		minRev = meta.TruncateBefore
	}
	if meta.MaxCount > 0 {
		minRev = max(minRev, h.LastRevision+1-meta.MaxCount)
	}
	if IsMetastream(stream) {
		minRev = max(minRev, h.LastRevision)
	}
	maxRev := h.LastRevision
	if withTombstone {
		maxRev = DeletedStreamRevision
	}
	if maxRev < 0 {
		return nil, nil
	}
	lower, upper := uint64(max(minRev, 0)), uint64(maxRev)
	if backwards {
		upper = min(upper, from)
	} else {
		lower = max(lower, from)
	}
	if lower > upper {
		return nil, nil
	}
	var cutoff int64 = math.MinInt64
	if meta.MaxAgeSeconds > 0 {
		cutoff = s.now().UnixNano()/100 - meta.MaxAgeSeconds*10_000_000
	}
	committed := s.committed.Load()
	upperKey := streamPrefix(stream)
	upperKey = binary.BigEndian.AppendUint64(upperKey, upper)
	upperKey = append(upperKey, 0) // just past revision upper
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamKey(stream, lower), UpperBound: upperKey})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([]RecordedEvent, 0, min(limit, 512))
	valid := it.First()
	if backwards {
		valid = it.Last()
	}
	for ; valid && len(out) < limit; valid = step(it, backwards) {
		pos := binary.BigEndian.Uint64(it.Value())
		if pos > committed {
			continue // not yet durable
		}
		e, err := s.eventAt(pos)
		if scavenged(err) {
			continue // removed by a scavenge since the index was read
		}
		if err != nil {
			return nil, err
		}
		if e.Created < cutoff && e.Revision != DeletedStreamRevision {
			continue
		}
		out = append(out, e)
	}
	return out, it.Error()
}

func (s *Store) eventAt(pos uint64) (RecordedEvent, error) {
	v, closer, err := s.db.Get(eventKey(pos))
	if err != nil {
		return RecordedEvent{}, err
	}
	defer closer.Close()
	return decodeEvent(pos, v)
}
