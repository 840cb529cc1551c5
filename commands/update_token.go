package commands

import (
	"context"

	"github.com/accountd/accountd/events"
)

// UpdateToken changes a token's title, enabled flag or allowed addresses.
type UpdateToken struct {
	UserID, TokenID string
	Change          TokenChange
	Actor           Actor // a token changes only tokens within its reach
}

// TokenResult is a token as a command left it.
type TokenResult struct {
	Token Token
	Result
}

// handleUpdateToken records the settings that change.
func (h *Handlers) handleUpdateToken(ctx context.Context, cmd UpdateToken, meta events.Metadata) (res TokenResult, err error) {
	c := cmd.Change
	var vs = validTitleIfSet(c.Title)
	if c.AllowedIPs != nil {
		ips, ivs := validIPs("allowed_ips", *c.AllowedIPs)
		vs = append(vs, ivs...)
		c.AllowedIPs = &ips
	}
	if err := invalid(vs); err != nil {
		return TokenResult{}, err
	}
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.tokens, events.TokensStream(cmd.UserID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.update(cmd.Actor, cmd.TokenID, c, meta.Time)
	})
	if err != nil {
		return TokenResult{}, err
	}
	t, _ := out.State.Get(cmd.TokenID)
	return TokenResult{Token: t, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}
