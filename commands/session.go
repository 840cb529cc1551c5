package commands

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
)

// Session is the state of one session-<id> stream.
type Session struct {
	ID        string
	UserID    string
	Digest    string
	ExpiresAt time.Time
	Ended     bool
}

// FoldSession applies one past event of a session stream. Pure.
func FoldSession(s Session, e eventlog.Recorded) (Session, error) {
	switch e.Type {
	case events.SessionStarted:
		var p events.SessionStartedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return s, fmt.Errorf("%s: %w", e.Type, err)
		}
		return Session{ID: p.SessionID, UserID: p.UserID, Digest: p.TokenDigest, ExpiresAt: p.ExpiresAt}, nil
	case events.SessionEnded:
		s.Ended = true
	}
	return s, nil
}

// Tokens look like "acs_<session id hex>_<secret>": the id finds the
// session, the secret proves possession and is stored only as a digest.
const tokenPrefix = "acs_"

func newToken() (sessionID, token, digest string, err error) {
	id := uuid.New()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", "", "", err
	}
	s := base64.RawURLEncoding.EncodeToString(secret)
	return id.String(), tokenPrefix + hex.EncodeToString(id[:]) + "_" + s, TokenDigest(s), nil
}

// TokenDigest is what a session stores instead of its secret.
func TokenDigest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseToken splits a bearer token into session id and secret.
func ParseToken(token string) (sessionID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", "", false
	}
	idHex, secret, ok := strings.Cut(rest, "_")
	if !ok || len(idHex) != 32 || secret == "" {
		return "", "", false
	}
	raw, err := hex.DecodeString(idHex)
	if err != nil {
		return "", "", false
	}
	id, err := uuid.FromBytes(raw)
	if err != nil {
		return "", "", false
	}
	return id.String(), secret, true
}

// DigestMatches compares in constant time.
func DigestMatches(secret, digest string) bool {
	return subtle.ConstantTimeCompare([]byte(TokenDigest(secret)), []byte(digest)) == 1
}
