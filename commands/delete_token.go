package commands

import (
	"context"

	"github.com/accountd/accountd/events"
)

// DeleteToken revokes a token and removes it from the list.
type DeleteToken struct {
	UserID, TokenID string
}

// DeleteToken ends the token at once.
func (h *Handlers) DeleteToken(ctx context.Context, cmd DeleteToken, meta events.Metadata) (res Result, err error) {
	defer func() { h.done("delete_token", err) }()
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, h.stamp(meta), func(ts Tokens) ([]events.Payload, error) {
		return ts.delete(cmd.TokenID)
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}

// DeleteAllTokens revokes and removes every token of a user.
type DeleteAllTokens struct {
	UserID string
}

// DeleteAllTokens ends them all in one append.
func (h *Handlers) DeleteAllTokens(ctx context.Context, cmd DeleteAllTokens, meta events.Metadata) (res Result, err error) {
	defer func() { h.done("delete_all_tokens", err) }()
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, h.stamp(meta), func(ts Tokens) ([]events.Payload, error) {
		return ts.deleteAll()
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}
