package commands

import (
	"context"
	"errors"

	"github.com/accountd/accountd/events"
)

// EndSession ends one of the user's sessions.
type EndSession struct {
	UserID, SessionID string
}

// handleEndSession revokes the session; another user's session is not found.
func (h *Handlers) handleEndSession(ctx context.Context, cmd EndSession, meta events.Metadata) (res Result, err error) {
	return h.endSession(ctx, cmd.UserID, cmd.SessionID, events.SessionRevoked, h.stamp(meta))
}

func (h *Handlers) endSession(ctx context.Context, userID, sessionID, reason string, meta events.Metadata) (Result, error) {
	out, err := update(ctx, h, h.sessions, events.SessionStream(sessionID), nil, meta, func(s Session) ([]events.Payload, error) {
		return s.end(userID, reason)
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}

// EndOtherSessions ends every session of the user but the one kept.
type EndOtherSessions struct {
	UserID, KeepSessionID string
}

// handleEndOtherSessions ends them one by one; the first failure stops it (what
// ended stays ended).
func (h *Handlers) handleEndOtherSessions(ctx context.Context, cmd EndOtherSessions, meta events.Metadata) (res Result, err error) {
	pos, err := h.endOtherSessions(ctx, cmd.UserID, cmd.KeepSessionID, events.SessionRevoked, h.stamp(meta))
	return Result{Position: pos}, err
}

func (h *Handlers) endOtherSessions(ctx context.Context, userID, keep, reason string, meta events.Metadata) (uint64, error) {
	var last uint64
	for _, id := range h.directory.SessionsOf(userID) {
		if id == keep {
			continue
		}
		res, err := h.endSession(ctx, userID, id, reason, meta)
		if errors.Is(err, ErrSessionNotFound) {
			continue // the index knew of it before its stream could be read
		}
		if err != nil {
			return last, err
		}
		last = max(last, res.Position)
	}
	return last, nil
}

// handleFinishSessionEnd appends the session.ended a session is due because its
// account ended it (a password change, the account disabled) when the
// process that recorded the cause stopped before ending it. A session that
// has ended meanwhile stays as it is, so replicas may repeat it.
func (h *Handlers) handleFinishSessionEnd(ctx context.Context, userID, sessionID, reason string, meta events.Metadata) (res Result, err error) {
	return h.endSession(ctx, userID, sessionID, reason, h.stamp(meta))
}
