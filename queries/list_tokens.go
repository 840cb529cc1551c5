package queries

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/accountd/accountd/projections"
)

// Token is one personal access token of a user.
type Token struct {
	ID string
	projections.TokenDoc
}

// ListTokens lists every token of the user (expired and revoked ones
// included), newest first.
func (r *Reader) ListTokens(ctx context.Context, userID string) ([]Token, error) {
	r.waitForCaller(ctx, userID, projections.TokensProjector().Name)
	var doc projections.UserTokensDoc
	if err := r.findByID(ctx, projections.TokensCollection, userID, &doc); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out := make([]Token, 0, len(doc.Tokens))
	for id, t := range doc.Tokens {
		if t.CreatedAt == "" {
			continue // a use recorded as the token was deleted
		}
		out = append(out, Token{ID: id, TokenDoc: t})
	}
	slices.SortFunc(out, func(a, b Token) int { return cmp.Or(cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// GetToken reads one token of the user.
func (r *Reader) GetToken(ctx context.Context, userID, tokenID string) (Token, error) {
	all, err := r.ListTokens(ctx, userID)
	if err != nil {
		return Token{}, err
	}
	for _, t := range all {
		if t.ID == tokenID {
			return t, nil
		}
	}
	return Token{}, ErrNotFound
}
