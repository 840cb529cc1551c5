package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/tokens"
)

// CreateToken makes a personal access token for UserID.
type CreateToken struct {
	UserID string
	Spec   TokenSpec
	// Actor is the credential the request came with: a token creates only
	// tokens within its own scopes, addresses and life.
	Actor Actor
}

// IssuedToken is a token and its secret, shown this once.
type IssuedToken struct {
	Token  Token
	Secret string
	Result
}

// handleCreateToken checks the settings and the per-user limit, and records the
// token's digest; the secret itself is only in the result.
func (h *Handlers) handleCreateToken(ctx context.Context, cmd CreateToken, meta events.Metadata) (res IssuedToken, err error) {
	meta = h.stamp(meta)
	spec, err := h.tokenPolicy.validSpec(cmd.Spec, meta.Time)
	if err != nil {
		return IssuedToken{}, err
	}
	pat, err := tokens.NewPAT()
	if err != nil {
		return IssuedToken{}, err
	}
	id := uuid.NewString()
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.create(cmd.Actor, cmd.UserID, id, spec, pat, meta.Time, h.tokenPolicy.maxLive)
	})
	if err != nil {
		return IssuedToken{}, err
	}
	t, _ := out.State.Get(id)
	return IssuedToken{Token: t, Secret: pat.Token, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}
