package commands

import (
	"context"

	"github.com/accountd/accountd/events"
)

// DeleteToken revokes a token and removes it from the list.
type DeleteToken struct {
	UserID, TokenID string
	Actor           Actor // a token deletes only tokens within its reach
}

// handleDeleteToken ends the token at once.
func (h *Handlers) handleDeleteToken(ctx context.Context, cmd DeleteToken, meta events.Metadata) (res Result, err error) {
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.delete(cmd.Actor, cmd.TokenID, meta.Time)
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}

// DeleteAllTokens revokes and removes every token of a user.
type DeleteAllTokens struct {
	UserID string
	Actor  Actor // a token deletes all only when it reaches them all
}

// handleDeleteAllTokens ends them all in one append.
func (h *Handlers) handleDeleteAllTokens(ctx context.Context, cmd DeleteAllTokens, meta events.Metadata) (res Result, err error) {
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.deleteAll(cmd.Actor, meta.Time)
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}
