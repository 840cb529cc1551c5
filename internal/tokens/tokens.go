// Package tokens makes and parses the bearer tokens the service hands out,
// and the digests it keeps instead of them. The command side mints tokens;
// the principal index checks them: both through this package.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
)

// Session tokens look like "acs_<session id hex>_<secret>": the id finds the
// session, the secret proves possession and is stored only as a digest.
const sessionPrefix = "acs_"

// Minted is a new token: show Token once, store only Digest.
type Minted struct {
	ID     string // the session id
	Token  string
	Digest string
}

// NewSession mints a session token.
func NewSession() (Minted, error) {
	id := uuid.New()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Minted{}, err
	}
	s := base64.RawURLEncoding.EncodeToString(secret)
	return Minted{ID: id.String(), Token: sessionPrefix + hex.EncodeToString(id[:]) + "_" + s, Digest: Digest(s)}, nil
}

// ParseSession splits a session token into session id and secret.
func ParseSession(token string) (sessionID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, sessionPrefix)
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

// Digest is what is stored instead of a secret: hex SHA-256. Tokens carry
// 256 random bits, so a fast hash is enough.
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Matches compares a secret with a stored digest in constant time.
func Matches(secret, digest string) bool {
	return subtle.ConstantTimeCompare([]byte(Digest(secret)), []byte(digest)) == 1
}
