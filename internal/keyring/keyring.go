// Package keyring keeps the secrets the embedded servers need in the data
// directory: generated credentials for the event store and NATS, and a
// private certificate authority with a server certificate for the event
// store's TLS. The directory is 0700 and every file 0600, so only the
// account that runs the service can read them; the service and the tools
// read them from there, so nobody has to set anything up.
package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is the credentials file's name in the data directory.
const File = "credentials.json"

// Login is a user name and password.
type Login struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Credentials of the embedded servers.
type Credentials struct {
	EventStore Login `json:"eventstore"`
	NATS       Login `json:"nats"`
}

// PrivateDir makes dir (and its parents) exist, and makes dir itself
// readable by its owner only, also when it existed with looser modes.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// Ensure returns the data directory's credentials, generating strong random
// ones on first use.
func Ensure(dataDir string) (Credentials, error) {
	if err := PrivateDir(dataDir); err != nil {
		return Credentials{}, fmt.Errorf("data directory: %w", err)
	}
	c, err := Load(dataDir)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, err
	}
	for _, l := range []*Login{&c.EventStore, &c.NATS} {
		l.Username = "accountd"
		if l.Password, err = Random(32); err != nil {
			return Credentials{}, err
		}
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return Credentials{}, err
	}
	if err := WritePrivate(filepath.Join(dataDir, File), append(raw, '\n')); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// Load reads the data directory's credentials (fs.ErrNotExist if none).
func Load(dataDir string) (Credentials, error) {
	var c Credentials
	raw, err := os.ReadFile(filepath.Join(dataDir, File))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("%s: %w", filepath.Join(dataDir, File), err)
	}
	if c.EventStore.Password == "" || c.NATS.Password == "" {
		return c, fmt.Errorf("%s: a password is missing", filepath.Join(dataDir, File))
	}
	return c, nil
}

// Random is n random bytes, URL-safe base64 encoded.
func Random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// WritePrivate writes a file only its owner can read, atomically: a crash
// leaves either no file or the whole file.
func WritePrivate(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
