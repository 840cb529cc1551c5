package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/tokens"
)

// RevokeTokens revokes the live tokens whose secrets someone reported
// (a secret scanner, anyone who found one). It asks for no credential and
// says nothing about which tokens existed.
type RevokeTokens struct {
	Tokens []string
}

// maxReported bounds one report.
const maxReported = 100

// handleRevokeTokens revokes what it can; malformed and unknown tokens are
// skipped. Tokens revoked this way stay listed, marked revoked.
func (h *Handlers) handleRevokeTokens(ctx context.Context, cmd RevokeTokens, meta events.Metadata) (err error) {
	meta = h.stamp(meta)
	meta.Actor = events.ActorAnonymous
	for i, t := range cmd.Tokens {
		if i == maxReported {
			break
		}
		if !tokens.ValidPAT(t) {
			continue
		}
		digest := tokens.PATDigest(t)
		userID, _, ok := h.directory.TokenByDigest(digest)
		if !ok {
			continue
		}
		if _, err := update(ctx, h, h.tokens, events.TokensStream(userID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
			return ts.revokeReported(digest, meta.Time)
		}); err != nil {
			return err
		}
	}
	return nil
}

// ReportTokenReuse: a rotated-away secret was presented again. The token it
// was rotated into is revoked, and the reuse recorded with its address.
type ReportTokenReuse struct {
	Digest   string
	ClientIP string
}

// handleReportTokenReuse records the reuse once per token.
func (h *Handlers) handleReportTokenReuse(ctx context.Context, cmd ReportTokenReuse, meta events.Metadata) (err error) {
	userID, _, ok := h.directory.TokenByDigest(cmd.Digest)
	if !ok {
		return nil
	}
	meta = h.stamp(meta)
	meta.Actor = events.ActorSystem
	_, err = update(ctx, h, h.tokens, events.TokensStream(userID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.reused(cmd.Digest, cmd.ClientIP)
	})
	return err
}
