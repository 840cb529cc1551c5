// Package devices issues and checks device values, the proof that a
// browser or an API client signed in to an account before (OWASP "Slow Down
// Online Guessing Attacks with Device Cookies"). A value binds the account
// id, a random device id and the time it was issued, under an HMAC with a
// key derived from the service's secret key: every replica with the same
// secret key accepts the values of the others, and nobody without it can
// make one. The value itself carries neither the account id nor anything
// personal; it is checked against the account a sign-in names.
package devices

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// Purpose names the key derived from the secret key for device values.
const Purpose = "device-cookie"

// DefaultTTL is how long a device value is accepted after it was issued; a
// sign-in with it issues a new one.
const DefaultTTL = 365 * 24 * time.Hour

const (
	version  = 1
	idSize   = 16
	bodySize = 1 + idSize + 8 // version, device id, issued (Unix seconds)
	macSize  = sha256.Size
	// Len is the length of every value (57 bytes in base64url: no padding);
	// nothing of another length is decoded.
	Len = (bodySize + macSize) / 3 * 4
)

// Signer issues and checks device values. Safe for concurrent use; it keeps
// no state but its key, so it is the same in every replica.
type Signer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// New returns a signer with key (at least 32 bytes), accepting values for
// ttl after they were issued (0: DefaultTTL).
func New(key []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("devices: the key must have at least 32 bytes")
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 {
		return nil, errors.New("devices: the lifetime must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, ttl: ttl, now: now}, nil
}

// TTL is how long a value is accepted.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue returns a value for account and device (a device id from Verify),
// issued now; device "" makes a new device.
func (s *Signer) Issue(account, device string) (string, error) {
	id := make([]byte, idSize)
	if raw, err := hex.DecodeString(device); device != "" && err == nil && len(raw) == idSize {
		copy(id, raw)
	} else if _, err := rand.Read(id); err != nil {
		return "", err
	}
	buf := make([]byte, bodySize, bodySize+macSize)
	buf[0] = version
	copy(buf[1:], id)
	binary.BigEndian.PutUint64(buf[1+idSize:], uint64(s.now().Unix()))
	return base64.RawURLEncoding.EncodeToString(append(buf, s.mac(account, buf)...)), nil
}

// Verify returns the device id of value when this service issued it for
// account and it has not expired; ok is false for anything else (another
// account's value, a forged or altered one, garbage).
func (s *Signer) Verify(account, value string) (device string, ok bool) {
	if account == "" || len(value) != Len {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) != bodySize+macSize || raw[0] != version {
		return "", false
	}
	body, mac := raw[:bodySize], raw[bodySize:]
	if !hmac.Equal(mac, s.mac(account, body)) {
		return "", false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[1+idSize:])), 0)
	now := s.now()
	// A value from a replica whose clock is ahead is fine; one from the far
	// future is not one we issued.
	if now.Sub(issued) > s.ttl || issued.Sub(now) > time.Hour {
		return "", false
	}
	return hex.EncodeToString(body[1 : 1+idSize]), true
}

// mac binds the body to the account.
func (s *Signer) mac(account string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("accountd device v1\x00"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(account)))
	m.Write(n[:])
	m.Write([]byte(account))
	m.Write(body)
	return m.Sum(nil)
}
