package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"strings"
)

// Personal access tokens look like "acp_" + 32 random base62 characters +
// the CRC32 (IEEE) of everything before it as 6 base62 characters, most
// significant first, zero-padded: secret scanners can recognise them, and a
// mistyped token is refused without a lookup. 32 base62 characters carry
// about 190 random bits, so SHA-256 is enough to store them by.
const (
	patPrefix     = "acp_"
	patRandomLen  = 32
	patChecksumLn = 6
	// PATLength is the length of every personal access token.
	PATLength = len(patPrefix) + patRandomLen + patChecksumLn
	// ShownPrefixLength is how much of a token is shown after creation.
	ShownPrefixLength = 12
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// PAT is a new personal access token: show Token once, store Digest and
// Prefix.
type PAT struct {
	Token, Digest, Prefix string
}

// NewPAT mints a personal access token.
func NewPAT() (PAT, error) {
	var b strings.Builder
	b.WriteString(patPrefix)
	max := big.NewInt(62)
	for range patRandomLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return PAT{}, err
		}
		b.WriteByte(base62[n.Int64()])
	}
	body := b.String()
	token := body + checksum(body)
	return PAT{Token: token, Digest: PATDigest(token), Prefix: token[:ShownPrefixLength]}, nil
}

// IsPAT says whether s has the shape of a personal access token (prefix,
// length, alphabet), whether or not its checksum is right.
func IsPAT(s string) bool {
	if len(s) != PATLength || !strings.HasPrefix(s, patPrefix) {
		return false
	}
	for i := len(patPrefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return true
}

// ValidPAT says whether s is a personal access token with a right checksum.
func ValidPAT(s string) bool {
	return IsPAT(s) && checksum(s[:len(s)-patChecksumLn]) == s[len(s)-patChecksumLn:]
}

// PATDigest is what is stored instead of a personal access token.
func PATDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func checksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	var out [patChecksumLn]byte
	for i := patChecksumLn - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}
