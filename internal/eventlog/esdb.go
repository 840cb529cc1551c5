// Package eventlog implements the command side's event-log port
// (commands.EventLog): over EventStoreDB through the official client, and in
// memory for fast command tests. Both pass the contract suite in
// eventlogtest.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

// ESDB is the event log on EventStoreDB (or the embedded event store).
type ESDB struct {
	client *esdb.Client
}

// New wraps a connected client.
func New(client *esdb.Client) *ESDB { return &ESDB{client: client} }

// ReadStream implements commands.EventLog.
func (l *ESDB) ReadStream(ctx context.Context, stream string, after commands.Version) ([]events.Recorded, error) {
	var start esdb.StreamPosition = esdb.Start{}
	if after >= 0 {
		start = esdb.Revision(uint64(after) + 1)
	}
	rs, err := l.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: start}, ^uint64(0)>>1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	defer rs.Close()
	var out []events.Recorded
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
		rec, err := Decode(ev.Event)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		out = append(out, rec)
	}
}

// TruncateBefore implements commands.EventLog: it sets the stream's $tb.
func (l *ESDB) TruncateBefore(ctx context.Context, stream string, revision uint64) error {
	var meta esdb.StreamMetadata
	meta.SetTruncateBefore(revision)
	if _, err := l.client.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, meta); err != nil {
		return fmt.Errorf("truncate %s before %d: %w", stream, revision, err)
	}
	return nil
}

// Decode reads a client event through the events registry.
func Decode(e *esdb.RecordedEvent) (events.Recorded, error) {
	rec, err := DecodePayload(e)
	if err != nil {
		return rec, err
	}
	if rec.Metadata, err = events.DecodeMetadata(e.UserMetadata); err != nil {
		return rec, &events.UndecodableError{Type: e.EventType, Err: err}
	}
	return rec, nil
}

// DecodePayload reads a client event but not its metadata, for readers
// that do not use it.
func DecodePayload(e *esdb.RecordedEvent) (events.Recorded, error) {
	rec := events.Recorded{ID: e.EventID, Stream: e.StreamID, Type: e.EventType, Revision: e.EventNumber, Position: e.Position.Commit}
	var err error
	rec.Payload, err = events.Decode(e.EventType, e.Data)
	return rec, err
}

// An append whose connection fails under it is sent again, unchanged: the
// same event ids after the same expected revision, so if the first attempt
// was written (only its answer was lost) the store recognises the retry and
// answers with the original result instead of writing the events twice.
// Unavailable means the node went away (the client rediscovers it);
// NotLeader means a cluster's leader moved (the client reconnects to the
// new one). Other errors are final.
const (
	appendAttempts   = 5
	appendFirstRetry = 100 * time.Millisecond // doubled after each attempt: 1.5 s in all
)

func (l *ESDB) appendRetrying(ctx context.Context, stream string, exp esdb.ExpectedRevision, data []esdb.EventData) (*esdb.WriteResult, error) {
	delay := appendFirstRetry
	for attempt := 1; ; attempt++ {
		res, err := l.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, data...)
		var esErr *esdb.Error
		retryable := errors.As(err, &esErr) && (esErr.Code() == esdb.ErrorUnavailable || esErr.Code() == esdb.ErrorCodeNotLeader)
		if !retryable {
			return res, err
		}
		if attempt == appendAttempts {
			return nil, fmt.Errorf("%d attempts: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (after %d attempts; last: %v)", ctx.Err(), attempt, err)
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// Append implements commands.EventLog. Event ids are made once per call,
// so retries (see appendRetrying) are recognised as such.
func (l *ESDB) Append(ctx context.Context, stream string, expected commands.Version, meta events.Metadata, payloads ...events.Payload) (commands.Appended, error) {
	metaJSON, err := events.EncodeMetadata(meta)
	if err != nil {
		return commands.Appended{}, err
	}
	data := make([]esdb.EventData, len(payloads))
	for i, p := range payloads {
		eventType, payload, err := events.Encode(p)
		if err != nil {
			return commands.Appended{}, err
		}
		data[i] = esdb.EventData{
			EventID:     uuid.New(),
			EventType:   eventType,
			ContentType: esdb.ContentTypeJson,
			Data:        payload,
			Metadata:    metaJSON,
		}
	}
	var exp esdb.ExpectedRevision
	switch expected {
	case commands.NoStream:
		exp = esdb.NoStream{}
	case commands.AnyVersion:
		exp = esdb.Any{}
	default:
		exp = esdb.Revision(uint64(expected))
	}
	res, err := l.appendRetrying(ctx, stream, exp, data)
	var esErr *esdb.Error
	if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeWrongExpectedVersion {
		return commands.Appended{}, commands.ErrWrongExpectedVersion
	}
	if err != nil {
		return commands.Appended{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	return commands.Appended{Revision: res.NextExpectedVersion, Position: res.CommitPosition}, nil
}
