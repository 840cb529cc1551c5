package events

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Envelope is how an event travels on the message bus from the relay to
// its consumers: the event with its place in the log, still encoded.
type Envelope struct {
	ID       string          `json:"id"`
	Stream   string          `json:"stream"`
	Type     string          `json:"type"`
	Revision uint64          `json:"revision"`
	Position uint64          `json:"position"` // $all commit position
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// Decode reads the envelope's event. Whatever cannot be read is an
// UndecodableError (errors.Is ErrUndecodable), with the envelope's place kept
// in the returned Recorded for parking.
func (e Envelope) Decode() (Recorded, error) {
	rec := Recorded{Stream: e.Stream, Type: e.Type, Revision: e.Revision, Position: e.Position}
	id, err := uuid.Parse(e.ID)
	if err != nil {
		return rec, &UndecodableError{Type: e.Type, Err: fmt.Errorf("event id: %w", err)}
	}
	rec.ID = id
	if rec.Metadata, err = DecodeMetadata(e.Metadata); err != nil {
		return rec, &UndecodableError{Type: e.Type, Err: err}
	}
	rec.Payload, err = Decode(e.Type, e.Data)
	return rec, err
}

// DecodeMetadata reads an event's custom metadata; none is the zero value.
func DecodeMetadata(raw []byte) (Metadata, error) {
	var m Metadata
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("metadata: %w", err)
	}
	return m, nil
}

// EncodeMetadata is the stored form of metadata, stamped with the schema
// version.
func EncodeMetadata(m Metadata) ([]byte, error) {
	m.SchemaVersion = SchemaVersion
	return json.Marshal(m)
}
