// Package storage is the durable log behind eventstored: a global, totally
// ordered $all log with per-stream indexes, kept in Pebble. Appends are
// group-committed by one writer goroutine so a single fsync covers many
// concurrent appends.
package storage

import (
	"errors"
	"fmt"
	"math"
)

// MaxAppendSize is EventStoreDB's default limit for one append request.
const MaxAppendSize = 1 << 20

// DeletedStreamRevision is the revision EventStoreDB gives the tombstone
// event and the $tb value it writes when a stream is soft-deleted.
const DeletedStreamRevision = math.MaxInt64

// System event types EventStoreDB writes itself.
const (
	MetadataEventType      = "$metadata"
	StreamDeletedEventType = "$streamDeleted"
)

// ExpectedKind selects how the expected revision of an append is checked.
type ExpectedKind int

const (
	ExpectAny ExpectedKind = iota
	ExpectNoStream
	ExpectStreamExists
	ExpectRevision
)

// Expected is an optimistic-concurrency condition on a stream.
type Expected struct {
	Kind     ExpectedKind
	Revision uint64 // for ExpectRevision
}

func (e Expected) String() string {
	switch e.Kind {
	case ExpectAny:
		return "any"
	case ExpectNoStream:
		return "no_stream"
	case ExpectStreamExists:
		return "stream_exists"
	default:
		return fmt.Sprint(e.Revision)
	}
}

// ProposedEvent is an event as the client sends it.
type ProposedEvent struct {
	ID          [16]byte
	Type        string
	ContentType string
	Data        []byte
	Metadata    []byte // the client's custom metadata
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	Stream      string
	Revision    uint64
	Position    uint64 // commit and prepare position in $all
	ID          [16]byte
	Type        string
	ContentType string
	Created     int64 // .NET ticks (100 ns) since the Unix epoch
	Data        []byte
	Metadata    []byte
}

// AppendResult is the outcome of a successful append.
type AppendResult struct {
	Revision uint64 // revision of the last event written
	Position uint64 // $all position of the last event written
}

// WrongExpectedVersionError reports a failed optimistic-concurrency check.
type WrongExpectedVersionError struct {
	Stream   string
	Current  int64 // -1 when the stream does not exist
	Expected Expected
}

func (e *WrongExpectedVersionError) Error() string {
	current := "no_stream"
	if e.Current >= 0 {
		current = fmt.Sprint(e.Current)
	}
	return fmt.Sprintf("wrong expected version for stream %q: expected %s, current %s", e.Stream, e.Expected, current)
}

// StreamDeletedError reports an operation on a tombstoned stream.
type StreamDeletedError struct{ Stream string }

func (e *StreamDeletedError) Error() string { return fmt.Sprintf("stream %q is deleted", e.Stream) }

var (
	// ErrStreamNotFound: never written, or soft-deleted.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrMaxAppendSizeExceeded: an append request over MaxAppendSize.
	ErrMaxAppendSizeExceeded = errors.New("maximum append size exceeded")
	// ErrInvalidStreamName: empty stream name.
	ErrInvalidStreamName = errors.New("stream name must not be empty")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
)
