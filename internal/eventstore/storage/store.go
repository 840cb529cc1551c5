package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/google/uuid"
)

// Options configure a Store.
type Options struct {
	// Now stamps events; nil means time.Now. Tests set it to move time.
	Now func() time.Time
	// CacheBytes is Pebble's block cache; it bounds read memory.
	CacheBytes int64
}

// maxBatchOps bounds one group commit so a burst cannot starve its first
// writer for long.
const maxBatchOps = 2048

// Store is safe for concurrent use.
type Store struct {
	db    *pebble.DB
	cache *pebble.Cache
	now   func() time.Time

	ops     chan *writeOp
	closeMu sync.RWMutex
	closed  bool
	done    chan struct{}
	failed  atomic.Pointer[error] // set when a commit fails: the log state is unknown

	committed atomic.Uint64 // highest $all position readers may see

	// Owned by the writer goroutine.
	lastPos uint64
	heads   *genCache[string, streamHead]
	// recentIDs maps the ids of recent events to their positions. Like
	// EventStoreDB, appends expecting any revision (or an existing stream)
	// are recognised as retries only against recent events.
	recentIDs *genCache[[16]byte, uint64]

	changedMu sync.Mutex
	changed   chan struct{}
}

type opKind int

const (
	opAppend opKind = iota
	opDelete
	opTombstone
)

type writeOp struct {
	kind     opKind
	stream   string
	expected Expected
	events   []ProposedEvent
	result   chan writeResult
}

type writeResult struct {
	res AppendResult
	err error
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 32 << 20
	}
	cache := pebble.NewCache(opts.CacheBytes)
	popts := &pebble.Options{
		Cache:        cache,
		MemTableSize: 16 << 20,
		Logger:       quietLogger{},
	}
	popts.Levels = make([]pebble.LevelOptions, 7)
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	popts.EnsureDefaults()
	db, err := pebble.Open(dir, popts)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("open event store in %s: %w", dir, err)
	}
	s := &Store{
		db:      db,
		cache:   cache,
		now:     opts.Now,
		ops:     make(chan *writeOp, 4096),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	last, err := s.readLastPosition()
	if err != nil {
		db.Close()
		cache.Unref()
		return nil, err
	}
	s.lastPos = last
	s.committed.Store(last)
	s.heads = newGenCache[string, streamHead](headCacheSize)
	s.recentIDs = newGenCache[[16]byte, uint64](recentIDCount)
	if err := s.loadRecentIDs(); err != nil {
		db.Close()
		cache.Unref()
		return nil, err
	}
	go s.writeLoop()
	return s, nil
}

// Bounds of the writer's caches.
const (
	headCacheSize = 1 << 16
	recentIDCount = 1 << 17
)

// loadRecentIDs fills the retry cache from the end of the log, so retries
// are recognised across a restart too.
func (s *Store) loadRecentIDs() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagEvent}, UpperBound: []byte{tagEvent + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var ids [][16]byte
	var positions []uint64
	for valid := it.Last(); valid && len(ids) < recentIDCount; valid = it.Prev() {
		_, _, id, err := decodeEventStream(it.Value())
		if err != nil {
			return err
		}
		ids = append(ids, id)
		positions = append(positions, binary.BigEndian.Uint64(it.Key()[1:]))
	}
	for i := len(ids) - 1; i >= 0; i-- { // oldest first, so the newest stay longest
		s.recentIDs.put(ids[i], positions[i])
	}
	return it.Error()
}

func (s *Store) readLastPosition() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagEvent}, UpperBound: []byte{tagEvent + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[1:]), nil
}

// Close waits for queued writes, then closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.closeMu.Unlock()
	<-s.done
	err := s.db.Close()
	s.cache.Unref()
	return err
}

// LastPosition is the $all position of the newest durable event (0: none).
func (s *Store) LastPosition() uint64 { return s.committed.Load() }

// Changed returns a channel closed at the next durable commit. Take it before
// reading so that a commit between the read and the wait is not missed.
func (s *Store) Changed() <-chan struct{} {
	s.changedMu.Lock()
	defer s.changedMu.Unlock()
	return s.changed
}

func (s *Store) notify() {
	s.changedMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.changedMu.Unlock()
}

// Append writes events to stream if expected holds. It returns once the
// events are on disk.
func (s *Store) Append(ctx context.Context, stream string, expected Expected, events []ProposedEvent) (AppendResult, error) {
	return s.submit(ctx, &writeOp{kind: opAppend, stream: stream, expected: expected, events: events})
}

// Delete soft-deletes stream: reads say not found, and a later append
// recreates it with revisions continuing.
func (s *Store) Delete(ctx context.Context, stream string, expected Expected) (AppendResult, error) {
	return s.submit(ctx, &writeOp{kind: opDelete, stream: stream, expected: expected})
}

// Tombstone deletes stream for good.
func (s *Store) Tombstone(ctx context.Context, stream string, expected Expected) (AppendResult, error) {
	return s.submit(ctx, &writeOp{kind: opTombstone, stream: stream, expected: expected})
}

func (s *Store) submit(ctx context.Context, op *writeOp) (AppendResult, error) {
	if op.stream == "" {
		return AppendResult{}, ErrInvalidStreamName
	}
	if op.kind == opAppend && appendSize(op.events) > MaxAppendSize {
		return AppendResult{}, ErrMaxAppendSizeExceeded
	}
	if errp := s.failed.Load(); errp != nil {
		return AppendResult{}, *errp
	}
	op.result = make(chan writeResult, 1)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return AppendResult{}, ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once queued the write happens whatever the caller does; a caller that
	// stops waiting learns nothing, as with any lost acknowledgement.
	select {
	case r := <-op.result:
		return r.res, r.err
	case <-ctx.Done():
		return AppendResult{}, ctx.Err()
	}
}

// appendSize counts what EventStoreDB counts against its append limit.
func appendSize(events []ProposedEvent) int {
	n := 0
	for _, e := range events {
		n += EventSize(e.Type, e.Data, e.Metadata)
	}
	return n
}

// EventSize is EventStoreDB's Event.SizeOnDisk: data and metadata bytes plus
// two bytes per UTF-16 unit of the type (.NET strings are UTF-16).
func EventSize(eventType string, data, metadata []byte) int {
	units := 0
	for _, r := range eventType {
		units += utf16.RuneLen(r)
	}
	return len(data) + len(metadata) + 2*units
}

func (s *Store) writeLoop() {
	defer close(s.done)
	ops := make([]*writeOp, 0, maxBatchOps)
	for {
		op, ok := <-s.ops
		if !ok {
			return
		}
		ops = append(ops[:0], op)
	drain:
		for len(ops) < maxBatchOps {
			select {
			case op, ok := <-s.ops:
				if !ok {
					break drain
				}
				ops = append(ops, op)
			default:
				break drain
			}
		}
		s.commit(ops)
	}
}

// commit applies a group of writes in one batch and one fsync.
func (s *Store) commit(ops []*writeOp) {
	results := make([]writeResult, len(ops))
	if errp := s.failed.Load(); errp != nil {
		for _, op := range ops {
			op.result <- writeResult{err: *errp}
		}
		return
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	w := writer{s: s, b: b, pos: s.lastPos, created: s.now().UnixNano() / 100}
	for i, op := range ops {
		results[i] = w.apply(op)
	}
	if !b.Empty() {
		if err := b.Commit(pebble.Sync); err != nil {
			err = fmt.Errorf("event store commit failed, refusing further writes: %w", err)
			s.failed.Store(&err)
			for _, op := range ops {
				op.result <- writeResult{err: err}
			}
			return
		}
		s.lastPos = w.pos
		s.committed.Store(w.pos)
		s.notify()
	}
	for i, op := range ops {
		op.result <- results[i]
	}
}

// writer builds one group-commit batch. Reads go through the indexed batch
// so that later writes in the group see earlier ones.
type writer struct {
	s       *Store
	b       *pebble.Batch
	pos     uint64
	created int64
}

func (w *writer) apply(op *writeOp) writeResult {
	var res AppendResult
	var err error
	switch op.kind {
	case opAppend:
		res, err = w.append(op.stream, op.expected, op.events)
	case opDelete:
		res, err = w.delete(op.stream, op.expected)
	case opTombstone:
		res, err = w.tombstone(op.stream, op.expected)
	}
	return writeResult{res: res, err: err}
}

func (w *writer) head(stream string) (streamHead, error) {
	if h, ok := w.s.heads.get(stream); ok {
		return h, nil
	}
	h, err := w.readHead(stream)
	if err == nil {
		w.s.heads.put(stream, h)
	}
	return h, err
}

// setHead writes a stream head to the batch and the cache. A commit that
// fails fails the store for good, so the cache never outlives a lost batch.
func (w *writer) setHead(stream string, h streamHead) error {
	w.s.heads.put(stream, h)
	return w.b.Set(headKey(stream), encodeHead(h), nil)
}

func (w *writer) readHead(stream string) (streamHead, error) {
	v, closer, err := w.b.Get(headKey(stream))
	if errors.Is(err, pebble.ErrNotFound) {
		return newHead(), nil
	}
	if err != nil {
		return newHead(), err
	}
	defer closer.Close()
	return decodeHead(v)
}

// check tests expected against the stream head h, as EventStoreDB's
// IndexWriter.CheckCommit does.
func (w *writer) check(stream string, h streamHead, expected Expected) error {
	if expected.Kind == ExpectStreamExists {
		if h.softDeleted() {
			return &StreamDeletedError{Stream: stream}
		}
		if h.LastRevision < 0 {
			// A stream whose metadata was written counts as existing.
			mh, err := w.head("$$" + stream)
			if err != nil {
				return err
			}
			if mh.LastRevision >= 0 {
				return nil
			}
		}
	}
	return checkExpected(stream, h, expected)
}

func checkExpected(stream string, h streamHead, expected Expected) error {
	ok := false
	switch expected.Kind {
	case ExpectAny:
		ok = true
	case ExpectNoStream:
		ok = !h.exists()
	case ExpectStreamExists:
		ok = h.exists()
	case ExpectRevision:
		ok = h.LastRevision == int64(expected.Revision) && expected.Revision <= math.MaxInt64
	}
	if ok {
		return nil
	}
	current := h.LastRevision
	if !h.exists() && expected.Kind != ExpectRevision {
		current = -1
	}
	return &WrongExpectedVersionError{Stream: stream, Current: current, Expected: expected}
}

func (w *writer) append(stream string, expected Expected, events []ProposedEvent) (AppendResult, error) {
	h, err := w.head(stream)
	if err != nil {
		return AppendResult{}, err
	}
	if h.Tombstoned {
		return AppendResult{}, &StreamDeletedError{Stream: stream}
	}
	if res, done, err := w.retried(stream, h, expected, events); done {
		return res, err
	}
	if err := w.check(stream, h, expected); err != nil {
		return AppendResult{}, err
	}
	if len(events) == 0 {
		// EventStoreDB answers an empty append with the stream's state.
		if h.LastRevision < 0 {
			return AppendResult{Revision: 0, Position: w.s.committed.Load()}, nil
		}
		return AppendResult{Revision: uint64(h.LastRevision), Position: w.s.committed.Load()}, nil
	}
	if h.softDeleted() {
		// Recreating a soft-deleted stream: hide the old events for good.
		meta := withTruncateBefore(h.Metadata, h.LastRevision+1)
		if _, err := w.appendMetadata(stream, meta); err != nil {
			return AppendResult{}, err
		}
		if h, err = w.head(stream); err != nil {
			return AppendResult{}, err
		}
	}
	return w.write(stream, h, events)
}

// retried recognises a retry of an append that already succeeded: the same
// event ids, in order, already in this stream. It returns done=true with the
// original result, or with a wrong-expected-version error for a partial match.
// Like EventStoreDB, an exact expectation (NoStream is -1) behind the stream's
// end looks at the events right after it; Any and StreamExists look the first
// id up. Event ids need not be unique across streams, so the id index alone
// cannot answer for exact expectations.
func (w *writer) retried(stream string, h streamHead, expected Expected, events []ProposedEvent) (AppendResult, bool, error) {
	if len(events) == 0 {
		return AppendResult{}, false, nil
	}
	var first uint64
	switch expected.Kind {
	case ExpectRevision:
		if expected.Revision >= math.MaxInt64 || int64(expected.Revision) >= h.LastRevision {
			return AppendResult{}, false, nil
		}
		first = expected.Revision + 1
	case ExpectNoStream:
		if h.LastRevision < 0 {
			return AppendResult{}, false, nil
		}
	default:
		pos, found := w.s.recentIDs.get(events[0].ID)
		if !found {
			return AppendResult{}, false, nil
		}
		e, err := w.eventHeader(pos)
		if err != nil || e.Stream != stream {
			return AppendResult{}, false, err
		}
		first = e.Revision
	}
	var last AppendResult
	for i := range events {
		p, found, err := w.lookupPos(streamKey(stream, first+uint64(i)))
		if err != nil {
			return AppendResult{}, true, err
		}
		var e RecordedEvent
		if found {
			if e, err = w.eventHeader(p); err != nil {
				return AppendResult{}, true, err
			}
		}
		if !found || e.ID != events[i].ID {
			if i == 0 {
				return AppendResult{}, false, nil // not a retry: check as usual
			}
			return AppendResult{}, true, &WrongExpectedVersionError{Stream: stream, Current: h.LastRevision, Expected: expected}
		}
		last = AppendResult{Revision: e.Revision, Position: p}
	}
	return last, true, nil
}

func (w *writer) lookupPos(key []byte) (uint64, bool, error) {
	v, closer, err := w.b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, errCorrupt
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func (w *writer) eventHeader(pos uint64) (RecordedEvent, error) {
	v, closer, err := w.b.Get(eventKey(pos))
	if err != nil {
		return RecordedEvent{}, err
	}
	defer closer.Close()
	stream, rev, id, err := decodeEventStream(v)
	return RecordedEvent{Stream: stream, Revision: rev, ID: id, Position: pos}, err
}

// write appends events after h.LastRevision and maintains metadata heads.
func (w *writer) write(stream string, h streamHead, events []ProposedEvent) (AppendResult, error) {
	rev := uint64(h.LastRevision + 1)
	var res AppendResult
	for i := range events {
		w.pos++
		e := RecordedEvent{
			Stream:      stream,
			Revision:    rev,
			Position:    w.pos,
			ID:          events[i].ID,
			Type:        events[i].Type,
			ContentType: events[i].ContentType,
			Created:     w.created,
			Data:        events[i].Data,
			Metadata:    events[i].Metadata,
		}
		if err := w.putEvent(&e); err != nil {
			return AppendResult{}, err
		}
		res = AppendResult{Revision: rev, Position: w.pos}
		rev++
	}
	h.LastRevision = int64(res.Revision)
	if err := w.setHead(stream, h); err != nil {
		return AppendResult{}, err
	}
	if target, ok := metastreamTarget(stream); ok {
		for i := len(events) - 1; i >= 0; i-- {
			if events[i].Type == MetadataEventType {
				if err := w.setMetadata(target, events[i].Data); err != nil {
					return AppendResult{}, err
				}
				break
			}
		}
	}
	return res, nil
}

func (w *writer) putEvent(e *RecordedEvent) error {
	if err := w.b.Set(eventKey(e.Position), encodeEvent(e), nil); err != nil {
		return err
	}
	if err := w.b.Set(streamKey(e.Stream, e.Revision), encodePos(e.Position), nil); err != nil {
		return err
	}
	w.s.recentIDs.put(e.ID, e.Position)
	return nil
}

func (w *writer) setMetadata(stream string, meta []byte) error {
	h, err := w.head(stream)
	if err != nil {
		return err
	}
	h.Metadata = cloneBytes(meta)
	return w.setHead(stream, h)
}

// appendMetadata writes a $metadata event to $$stream as the server itself.
func (w *writer) appendMetadata(stream string, meta []byte) (AppendResult, error) {
	metastream := "$$" + stream
	mh, err := w.head(metastream)
	if err != nil {
		return AppendResult{}, err
	}
	return w.write(metastream, mh, []ProposedEvent{{
		ID:          uuid.New(),
		Type:        MetadataEventType,
		ContentType: "application/json",
		Data:        meta,
	}})
}

func (w *writer) delete(stream string, expected Expected) (AppendResult, error) {
	h, err := w.head(stream)
	if err != nil {
		return AppendResult{}, err
	}
	if h.Tombstoned {
		return AppendResult{}, &StreamDeletedError{Stream: stream}
	}
	if err := w.check(stream, h, expected); err != nil {
		return AppendResult{}, err
	}
	return w.appendMetadata(stream, withTruncateBefore(h.Metadata, DeletedStreamRevision))
}

func (w *writer) tombstone(stream string, expected Expected) (AppendResult, error) {
	h, err := w.head(stream)
	if err != nil {
		return AppendResult{}, err
	}
	if h.Tombstoned {
		return AppendResult{}, &StreamDeletedError{Stream: stream}
	}
	if err := w.check(stream, h, expected); err != nil {
		return AppendResult{}, err
	}
	w.pos++
	e := RecordedEvent{
		Stream:      stream,
		Revision:    DeletedStreamRevision,
		Position:    w.pos,
		ID:          uuid.New(),
		Type:        StreamDeletedEventType,
		ContentType: "application/json",
		Created:     w.created,
		Data:        []byte{},
		Metadata:    []byte{},
	}
	if err := w.putEvent(&e); err != nil {
		return AppendResult{}, err
	}
	h.Tombstoned = true
	if err := w.setHead(stream, h); err != nil {
		return AppendResult{}, err
	}
	return AppendResult{Revision: DeletedStreamRevision, Position: w.pos}, nil
}

// metastreamTarget: "$$orders-1" is the metadata stream of "orders-1".
func metastreamTarget(stream string) (string, bool) {
	if len(stream) > 2 && strings.HasPrefix(stream, "$$") {
		return stream[2:], true
	}
	return "", false
}

// IsMetastream reports whether stream is a $$ metadata stream.
func IsMetastream(stream string) bool {
	_, ok := metastreamTarget(stream)
	return ok
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
