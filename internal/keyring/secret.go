package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SecretKeyFile holds the service's secret key (base64 of 32 random bytes)
// when none is configured: it wraps every account's data key, so losing it
// loses the personal data of every account, and whoever holds it and the
// database can read it.
const SecretKeyFile = "secret.key"

// EnsureSecretKey returns the data directory's secret key (base64),
// generating it on first use.
func EnsureSecretKey(dataDir string) (string, error) {
	if err := PrivateDir(dataDir); err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, SecretKeyFile)
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(b)
	if err := WritePrivate(path, []byte(key+"\n")); err != nil {
		return "", err
	}
	return key, nil
}

// LoadSecretKey reads the data directory's secret key (fs.ErrNotExist if
// there is none).
func LoadSecretKey(dataDir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, SecretKeyFile))
	return strings.TrimSpace(string(raw)), err
}
