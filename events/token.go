package events

import "time"

// A user's personal access tokens share one stream, tokens-<user id>, so
// that the per-user limit holds under concurrent creates. Only digests of
// tokens are stored, never a token; the title, which the user typed, is
// sealed with the owner's data key.

// TokenCreatedV1 records a new token.
type TokenCreatedV1 struct {
	TokenID     string    `json:"token_id"`
	UserID      string    `json:"user_id"`
	Title       string    `json:"title"`
	Scopes      []string  `json:"scopes"`
	ExpiresAt   time.Time `json:"expires_at"`
	Enabled     bool      `json:"enabled"`
	AllowedIPs  []string  `json:"allowed_ips,omitempty"` // CIDR prefixes; none: any address
	TokenDigest string    `json:"token_digest"`          // hex SHA-256 of the token
	TokenPrefix string    `json:"token_prefix"`          // its first 12 characters
	IssuedAt    time.Time `json:"issued_at"`
}

// TokenUpdatedV1 carries the settings that changed.
type TokenUpdatedV1 struct {
	TokenID    string    `json:"token_id"`
	UserID     string    `json:"user_id"`
	Title      *string   `json:"title,omitempty"`
	Enabled    *bool     `json:"enabled,omitempty"`
	AllowedIPs *[]string `json:"allowed_ips,omitempty"`
}

// TokenRotatedV1 gives a token a new secret and expiry; the old secret is
// rotated away: presenting it again revokes the token.
type TokenRotatedV1 struct {
	TokenID     string    `json:"token_id"`
	UserID      string    `json:"user_id"`
	OldDigest   string    `json:"old_digest"`
	TokenDigest string    `json:"token_digest"`
	TokenPrefix string    `json:"token_prefix"`
	ExpiresAt   time.Time `json:"expires_at"`
	IssuedAt    time.Time `json:"issued_at"`
}

// TokenRevokedV1 ends a token that stays listed, marked revoked.
type TokenRevokedV1 struct {
	TokenID string `json:"token_id"`
	UserID  string `json:"user_id"`
	Reason  string `json:"reason"` // reported, reuse_detected
}

// TokenDeletedV1 ends a token and removes it from the list.
type TokenDeletedV1 struct {
	TokenID string `json:"token_id"`
	UserID  string `json:"user_id"`
}

// TokenReuseDetectedV1 records that a rotated-away secret was presented:
// one of the two secrets has leaked.
type TokenReuseDetectedV1 struct {
	TokenID   string `json:"token_id"`
	UserID    string `json:"user_id"`
	OldDigest string `json:"old_digest"`
	ClientIP  string `json:"client_ip"`
}

// TokenUsedV1 records a use, at most once a minute per token (sooner from
// an address the token was not used from lately).
type TokenUsedV1 struct {
	TokenID  string    `json:"token_id"`
	UserID   string    `json:"user_id"`
	At       time.Time `json:"at"`
	ClientIP string    `json:"client_ip"`
}

// TokenAAD names a sealed field of a token.
func TokenAAD(owner, tokenID, field string) string {
	return "user:" + owner + ":token:" + tokenID + ":" + field
}

// MapPersonal implements Personal: the title is what the user typed.
func (p TokenCreatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	out, err := mapString(&p.Title, TokenAAD(owner, p.TokenID, "title"), f)
	if err != nil {
		return p, err
	}
	p.Title = *out
	return p, nil
}

// MapPersonal implements Personal.
func (p TokenUpdatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	var err error
	p.Title, err = mapString(p.Title, TokenAAD(owner, p.TokenID, "title"), f)
	return p, err
}

// Token revocation reasons.
const (
	RevokedReported      = "reported"
	RevokedReuseDetected = "reuse_detected"
)

func (TokenCreatedV1) EventType() string       { return TokenCreated }
func (TokenUpdatedV1) EventType() string       { return TokenUpdated }
func (TokenRotatedV1) EventType() string       { return TokenRotated }
func (TokenRevokedV1) EventType() string       { return TokenRevoked }
func (TokenDeletedV1) EventType() string       { return TokenDeleted }
func (TokenReuseDetectedV1) EventType() string { return TokenReuseDetected }
func (TokenUsedV1) EventType() string          { return TokenUsed }
