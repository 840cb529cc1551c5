package projections

import "github.com/accountd/accountd/events"

// UserTokensDoc holds one user's personal access tokens (never a secret or
// a digest: only the shown prefix), keyed by user id and guarded by $all
// position. Deleted tokens are removed; revoked and expired ones stay.
type UserTokensDoc struct {
	ID      string              `bson:"_id,omitempty"`
	Version int64               `bson:"_v,omitempty"`
	Tokens  map[string]TokenDoc `bson:"tokens,omitempty"`
}

// TokenDoc is one token. Pointers let a write set false and empty values.
type TokenDoc struct {
	Title       string    `bson:"title,omitempty"`
	Scopes      []string  `bson:"scopes,omitempty"`
	ExpiresAt   string    `bson:"expires_at,omitempty"`
	Enabled     *bool     `bson:"enabled,omitempty"`
	AllowedIPs  *[]string `bson:"allowed_ips,omitempty"`
	TokenPrefix string    `bson:"token_prefix,omitempty"`
	CreatedAt   string    `bson:"created_at,omitempty"`
	LastUsedAt  string    `bson:"last_used_at,omitempty"`
	LastUsedIP  string    `bson:"last_used_ip,omitempty"`
	Revoked     *bool     `bson:"revoked,omitempty"`
}

// TokensProjector keeps the user_tokens collection. It reads titles in
// plaintext (Personal): the account's deletion deletes its tokens, which
// removes them from the document.
func TokensProjector() Projector {
	return Projector{Name: "tokens", Categories: []string{events.TokensCategory}, Collections: []string{TokensCollection}, Personal: true,
		Reduce: reduceToken}
}

func reduceToken(e events.Recorded) ([]Write, error) {
	userID := events.StreamID(e.Stream)
	var doc TokenDoc
	var id string
	switch p := e.Payload.(type) {
	case events.TokenCreatedV1:
		ips, revoked := p.AllowedIPs, false
		if ips == nil {
			ips = []string{}
		}
		id, doc = p.TokenID, TokenDoc{Title: p.Title, Scopes: p.Scopes, ExpiresAt: stamp(p.ExpiresAt), Enabled: &p.Enabled,
			AllowedIPs: &ips, TokenPrefix: p.TokenPrefix, CreatedAt: stamp(p.IssuedAt), Revoked: &revoked}
	case events.TokenUpdatedV1:
		id, doc = p.TokenID, TokenDoc{Enabled: p.Enabled, AllowedIPs: p.AllowedIPs}
		if p.Title != nil {
			doc.Title = *p.Title
		}
	case events.TokenRotatedV1:
		id, doc = p.TokenID, TokenDoc{TokenPrefix: p.TokenPrefix, ExpiresAt: stamp(p.ExpiresAt)}
	case events.TokenRevokedV1:
		revoked := true
		id, doc = p.TokenID, TokenDoc{Revoked: &revoked}
	case events.TokenUsedV1:
		id, doc = p.TokenID, TokenDoc{LastUsedAt: stamp(p.At), LastUsedIP: p.ClientIP}
	case events.TokenDeletedV1:
		return []Write{{Collection: TokensCollection, ID: userID, Version: e.Position, Set: map[string]any{"tokens." + p.TokenID: Removal{}}}}, nil
	default:
		return nil, nil // a reuse is recorded for the audit log; the revocation that follows it shows here
	}
	set, err := under("tokens."+id, doc)
	if err != nil {
		return nil, err
	}
	return []Write{{Collection: TokensCollection, ID: userID, Version: e.Position, Set: set}}, nil
}
