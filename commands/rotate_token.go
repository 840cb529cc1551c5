package commands

import (
	"context"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/tokens"
	"github.com/accountd/accountd/internal/validate"
)

// RotateToken gives a token a new secret with the same settings and
// rotates the old secret away, in one command.
type RotateToken struct {
	UserID, TokenID string
	// ExpiresAt is the new expiry; nil: by a session, the lifetime the
	// token had, counted from now, capped at the maximum; by a token, the
	// expiry it has.
	ExpiresAt *time.Time
	Actor     Actor // a token rotates only tokens within its reach
}

// handleRotateToken returns the new secret, shown this once.
func (h *Handlers) handleRotateToken(ctx context.Context, cmd RotateToken, meta events.Metadata) (res IssuedToken, err error) {
	meta = h.stamp(meta)
	if cmd.ExpiresAt != nil {
		if err := invalid(h.tokenPolicy.validExpiry("expires_at", *cmd.ExpiresAt, meta.Time)); err != nil {
			return IssuedToken{}, err
		}
	}
	pat, err := tokens.NewPAT()
	if err != nil {
		return IssuedToken{}, err
	}
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.rotate(cmd.Actor, cmd.TokenID, pat, cmd.ExpiresAt, meta.Time, h.tokenPolicy.maxLifetime)
	})
	if err != nil {
		return IssuedToken{}, err
	}
	t, _ := out.State.Get(cmd.TokenID)
	return IssuedToken{Token: t, Secret: pat.Token, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}

func validTitleIfSet(title *string) []validate.Violation {
	if title == nil {
		return nil
	}
	return validTitle("title", *title)
}
