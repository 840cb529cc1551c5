package commands

import (
	"context"
	"errors"

	"github.com/accountd/accountd/events"
)

// EventLog is what commands need of the event store: read one stream, and
// append to it if it is still at the revision the decision was made on.
// internal/eventlog implements it over EventStoreDB and in memory; both pass
// one contract suite (internal/eventlog/eventlogtest).
type EventLog interface {
	// ReadStream returns the stream's events after revision after (NoStream:
	// all of them), decoded. A stream never written has none.
	ReadStream(ctx context.Context, stream string, after Version) ([]events.Recorded, error)
	// Append writes the events if the stream is at expected, and returns
	// only once they are durable. A stream elsewhere fails with
	// ErrWrongExpectedVersion and writes nothing.
	Append(ctx context.Context, stream string, expected Version, meta events.Metadata, payloads ...events.Payload) (Appended, error)
	// TruncateBefore hides the stream's events before revision from every
	// later read, for good: the store may drop them ($tb on EventStoreDB;
	// a scavenge removes them). Appends go on from the stream's end.
	TruncateBefore(ctx context.Context, stream string, revision uint64) error
}

// ErrWrongExpectedVersion: the stream changed since it was read. The update
// path retries on it; only If-Match turns it into a client error.
var ErrWrongExpectedVersion = errors.New("the stream was changed by someone else")

// Version is a stream's revision as commands see it.
type Version int64

const (
	// NoStream: the stream must not exist yet.
	NoStream Version = -1
	// AnyVersion: no concurrency check (tests and tools only).
	AnyVersion Version = -2
)

// Appended is the outcome of an append.
type Appended struct {
	Revision uint64 // of the last event written
	Position uint64 // $all position of the last event written
}
