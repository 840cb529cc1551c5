// Package eventlog is the account service's narrow view of EventStoreDB:
// read a stream, append with an expected version, and one sentinel error for
// a lost optimistic-concurrency race.
package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
)

// ErrWrongExpectedVersion: the stream changed since it was read. The HTTP
// layer maps it to 409 in one place.
var ErrWrongExpectedVersion = errors.New("the stream was changed by someone else")

// Version is a stream's revision as commands see it.
type Version int64

const (
	// NoStream: the stream must not exist yet.
	NoStream Version = -1
	// AnyVersion: no concurrency check.
	AnyVersion Version = -2
)

// NewEvent is an event to append.
type NewEvent struct {
	Type string
	Data any // marshalled to JSON
}

// Recorded is an event read back.
type Recorded struct {
	ID       uuid.UUID
	Stream   string
	Type     string
	Revision uint64
	Position uint64
	Data     []byte
	Metadata events.Metadata
}

// Result of an append.
type Result struct {
	Revision uint64 // of the last event written
	Position uint64 // $all position of the last event: the consistency token
}

// Log appends and reads through the official EventStoreDB client.
type Log struct {
	client *esdb.Client
}

// New wraps a connected client.
func New(client *esdb.Client) *Log { return &Log{client: client} }

// Client exposes the underlying client for subscriptions.
func (l *Log) Client() *esdb.Client { return l.client }

// Read returns the events of stream after revision from (use -1 for all).
// A missing stream has no events.
func (l *Log) Read(ctx context.Context, stream string, after Version) ([]Recorded, error) {
	var start esdb.StreamPosition = esdb.Start{}
	if after >= 0 {
		start = esdb.Revision(uint64(after) + 1)
	}
	rs, err := l.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: start}, ^uint64(0)>>1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	defer rs.Close()
	var out []Recorded
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		var esErr *esdb.Error
		if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeResourceNotFound {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		rec, err := FromResolved(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

// FromResolved converts a client event.
func FromResolved(ev *esdb.ResolvedEvent) (Recorded, error) {
	e := ev.Event
	rec := Recorded{
		ID:       e.EventID,
		Stream:   e.StreamID,
		Type:     e.EventType,
		Revision: e.EventNumber,
		Position: e.Position.Commit,
		Data:     e.Data,
	}
	if len(e.UserMetadata) > 0 {
		if err := json.Unmarshal(e.UserMetadata, &rec.Metadata); err != nil {
			return rec, fmt.Errorf("event %s in %s has unreadable metadata: %w", e.EventID, e.StreamID, err)
		}
	}
	return rec, nil
}

// Append writes events to stream if it is still at expected.
func (l *Log) Append(ctx context.Context, stream string, expected Version, meta events.Metadata, evs ...NewEvent) (Result, error) {
	meta.SchemaVersion = events.SchemaVersion
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return Result{}, err
	}
	data := make([]esdb.EventData, len(evs))
	for i, e := range evs {
		payload, err := json.Marshal(e.Data)
		if err != nil {
			return Result{}, fmt.Errorf("encode %s: %w", e.Type, err)
		}
		data[i] = esdb.EventData{
			EventID:     uuid.New(),
			EventType:   e.Type,
			ContentType: esdb.ContentTypeJson,
			Data:        payload,
			Metadata:    metaJSON,
		}
	}
	var exp esdb.ExpectedRevision
	switch expected {
	case NoStream:
		exp = esdb.NoStream{}
	case AnyVersion:
		exp = esdb.Any{}
	default:
		exp = esdb.Revision(uint64(expected))
	}
	res, err := l.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, data...)
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeWrongExpectedVersion {
		return Result{}, ErrWrongExpectedVersion
	}
	if err != nil {
		return Result{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	return Result{Revision: res.NextExpectedVersion, Position: res.CommitPosition}, nil
}
