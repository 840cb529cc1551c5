package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"

	"github.com/cockroachdb/pebble"
)

// ScavengeResult says what a scavenge removed.
type ScavengeResult struct {
	Streams int // streams that had events removed
	Events  int // events removed
}

// Scavenge removes for good the events no stream read returns any more:
// those before a stream's $tb (a soft-deleted stream's all) or beyond its
// $maxCount, and all but the last event of a metadata stream, as
// EventStoreDB's scavenge does. Reads of $all no longer return them
// either. Events hidden by $maxAge only are left (they depend on the
// clock), as are a tombstoned stream's (subscriptions still deliver them),
// and the store's newest event whatever it is (appends continue from its
// position).
//
// Deleting writes tombstones; the bytes leave the data files when Pebble
// compacts them, so Scavenge then compacts the part of the log it deleted
// from. Pebble keeps a write-ahead-log file for reuse once its memtable
// is flushed: the bytes it held go when it is written over (after about a
// memtable, 16 MiB, of appends) or when the store is next opened.
func (s *Store) Scavenge(ctx context.Context) (ScavengeResult, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock() // Close waits: Pebble must not close under a compaction
	if s.closed {
		return ScavengeResult{}, ErrClosed
	}
	var res ScavengeResult
	lowest, highest := uint64(math.MaxUint64), uint64(0)
	heads, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagHead}, UpperBound: []byte{tagHead + 1}})
	if err != nil {
		return res, err
	}
	defer heads.Close()
	for valid := heads.First(); valid; valid = heads.Next() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		stream := string(heads.Key()[1:])
		h, err := decodeHead(heads.Value())
		if err != nil {
			return res, err
		}
		keep := firstKept(stream, h)
		if keep <= 0 {
			continue
		}
		n, lo, hi, err := s.dropBefore(stream, uint64(keep))
		if err != nil {
			return res, err
		}
		if n > 0 {
			res.Streams++
			res.Events += n
			lowest, highest = min(lowest, lo), max(highest, hi)
		}
	}
	if err := heads.Error(); err != nil {
		return res, err
	}
	if res.Events > 0 {
		if err := s.db.Compact(eventKey(lowest), eventKeyAfter(highest), false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// firstKept is the lowest revision of stream a read may return (as in
// readRevisions, without $maxAge): what lies before may go.
func firstKept(stream string, h streamHead) int64 {
	if h.Tombstoned || h.LastRevision < 0 {
		return 0
	}
	meta := parseMetadata(h.Metadata)
	var keep int64
	if meta.TruncateBefore > 0 {
		keep = min(meta.TruncateBefore, h.LastRevision+1)
	}
	if meta.MaxCount > 0 {
		keep = max(keep, h.LastRevision+1-meta.MaxCount)
	}
	if IsMetastream(stream) {
		keep = max(keep, h.LastRevision)
	}
	return keep
}

// dropBefore deletes stream's events before revision keep, with their
// index entries, in one durable batch; it returns how many and the lowest
// and highest positions deleted.
func (s *Store) dropBefore(stream string, keep uint64) (n int, lowest, highest uint64, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamKey(stream, 0), UpperBound: streamKey(stream, keep)})
	if err != nil {
		return 0, 0, 0, err
	}
	defer it.Close()
	newest := s.committed.Load()
	b := s.db.NewBatch()
	defer b.Close()
	lowest = math.MaxUint64
	prefix := streamPrefix(stream)
	for valid := it.First(); valid; valid = it.Next() {
		if !bytes.HasPrefix(it.Key(), prefix) || len(it.Value()) != 8 {
			continue
		}
		pos := binary.BigEndian.Uint64(it.Value())
		if pos >= newest {
			continue // the newest event stays: the next append's position follows it
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return 0, 0, 0, err
		}
		if err := b.Delete(eventKey(pos), nil); err != nil {
			return 0, 0, 0, err
		}
		n++
		lowest, highest = min(lowest, pos), max(highest, pos)
	}
	if err := it.Error(); err != nil {
		return 0, 0, 0, err
	}
	if n == 0 {
		return 0, 0, 0, nil
	}
	return n, lowest, highest, b.Commit(pebble.Sync)
}

// scavenged: an event a read found in a stream's index went meanwhile.
func scavenged(err error) bool { return errors.Is(err, pebble.ErrNotFound) }
