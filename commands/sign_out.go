package commands

import (
	"context"

	"github.com/accountd/accountd/events"
)

// SignOut ends the session whose token the caller presented.
type SignOut struct {
	UserID    string
	SessionID string
}

// handleSignOut ends the session; ending an ended session changes nothing.
func (h *Handlers) handleSignOut(ctx context.Context, cmd SignOut, meta events.Metadata) (res Result, err error) {
	return h.endSession(ctx, cmd.UserID, cmd.SessionID, events.SessionSignedOut, h.stamp(meta))
}
