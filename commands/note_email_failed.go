package commands

import (
	"context"
	"time"

	"github.com/accountd/accountd/events"
)

// NoteEmailFailed records a failed attempt to send a notification's e-mail:
// which attempt, why (without personal data: the caller's to keep out),
// and when the outbox tries again. A mail already sent (another attempt
// got through meanwhile) changes nothing.
type NoteEmailFailed struct {
	UserID, NotificationID string
	Attempt                int
	Error                  string
	RetryAt                time.Time
}

// handleNoteEmailFailed records it; an unknown notification is not found.
func (h *Handlers) handleNoteEmailFailed(ctx context.Context, cmd NoteEmailFailed, meta events.Metadata) error {
	meta = h.stamp(meta)
	meta.Actor = events.ActorSystem
	_, err := update(ctx, h, h.inboxes, events.InboxStream(cmd.UserID), nil, meta, func(in Inbox) ([]events.Payload, error) {
		if _, ok := in.ids[cmd.NotificationID]; !ok {
			return nil, ErrNotificationNotFound
		}
		if _, sent := in.sent[cmd.NotificationID]; sent {
			return nil, nil
		}
		return []events.Payload{events.NotificationEmailFailedV1{UserID: cmd.UserID, NotificationID: cmd.NotificationID,
			Attempt: cmd.Attempt, Error: cmd.Error, RetryAt: cmd.RetryAt.UTC()}}, nil
	})
	return err
}
