package eventlog

import (
	"context"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

// Sealer seals and opens the personal fields of payloads (keystore.Store).
type Sealer interface {
	SealPayload(ctx context.Context, owner string, p events.Payload) (events.Payload, error)
	OpenPayload(ctx context.Context, owner string, p events.Payload) (events.Payload, bool, error)
}

// Sealed is an event log that stores personal fields encrypted with their
// owner's data key, and opens them on reading: commands see plaintext, the
// log holds ciphertext. An erased owner's personal fields read as "".
type Sealed struct {
	commands.EventLog
	Keys Sealer
}

// Append implements commands.EventLog.
func (l Sealed) Append(ctx context.Context, stream string, expected commands.Version, meta events.Metadata, payloads ...events.Payload) (commands.Appended, error) {
	if owner := events.Owner(stream); owner != "" {
		sealed := make([]events.Payload, len(payloads))
		for i, p := range payloads {
			var err error
			if sealed[i], err = l.Keys.SealPayload(ctx, owner, p); err != nil {
				return commands.Appended{}, err
			}
		}
		payloads = sealed
	}
	return l.EventLog.Append(ctx, stream, expected, meta, payloads...)
}

// ReadStream implements commands.EventLog.
func (l Sealed) ReadStream(ctx context.Context, stream string, after commands.Version) ([]events.Recorded, error) {
	recs, err := l.EventLog.ReadStream(ctx, stream, after)
	if err != nil {
		return nil, err
	}
	if owner := events.Owner(stream); owner != "" {
		for i := range recs {
			if recs[i].Payload, _, err = l.Keys.OpenPayload(ctx, owner, recs[i].Payload); err != nil {
				return nil, err
			}
		}
	}
	return recs, nil
}
