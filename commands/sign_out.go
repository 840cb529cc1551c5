package commands

import (
	"context"
	"errors"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
)

// SignOut ends the session whose token the caller presented.
type SignOut struct {
	UserID    string
	SessionID string
}

// SignOut ends the session; ending an ended session changes nothing.
func (h *Handlers) SignOut(ctx context.Context, cmd SignOut, meta events.Metadata) (Result, error) {
	stream := events.SessionStream(cmd.SessionID)
	meta = h.stamp(meta)
	for attempt := 0; attempt < 3; attempt++ {
		s, version, err := h.sessions.Load(ctx, stream, attempt > 0)
		if err != nil {
			return Result{}, err
		}
		if s.ID == "" || s.UserID != cmd.UserID {
			if attempt == 0 {
				continue
			}
			return Result{}, ErrSessionNotFound
		}
		if s.Ended {
			break
		}
		res, err := h.sessions.Append(ctx, stream, version, s, meta, eventlog.NewEvent{
			Type: events.SessionEnded,
			Data: events.SessionEndedV1{SessionID: s.ID, UserID: s.UserID, Reason: "signed_out"},
		})
		if errors.Is(err, eventlog.ErrWrongExpectedVersion) {
			continue
		}
		if err != nil {
			return Result{}, err
		}
		if h.registry != nil {
			h.registry.Ended(s.ID)
		}
		return res, nil
	}
	if h.registry != nil {
		h.registry.Ended(cmd.SessionID)
	}
	return Result{}, nil
}
