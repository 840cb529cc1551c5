package coord

import (
	"context"
	"crypto/cipher"
	"crypto/rand"

	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Store keeps short-lived values any replica may be asked for next (a token
// shown once on the page a form redirects to, a recent password
// confirmation), sealed: values are encrypted with the service's key before
// they leave the process, and bound to their key, so whoever reads the NATS
// account learns nothing and cannot move a value to another key.
type Store struct {
	kv   jetstream.KeyValue
	aead cipher.AEAD
	name string
}

// Store returns the store called name, whose values live ttl after they
// are put. aead seals them (AES-GCM under a key derived from the service's
// secret key: every replica has the same).
func (c *Coord) Store(ctx context.Context, name string, ttl time.Duration, aead cipher.AEAD) (*Store, error) {
	if !validName(name) {
		return nil, fmt.Errorf("store name %q: use 1-64 letters, digits, '-' or '_'", name)
	}
	if ttl <= 0 || aead == nil {
		return nil, fmt.Errorf("store %s: needs a time to live and a sealing key", name)
	}
	kv, err := c.bucket(ctx, "store_"+name, ttl)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv, aead: aead, name: name}, nil
}

func (s *Store) seal(key string, value []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, value, []byte(s.name+"\x00"+key))
}

func (s *Store) open(key string, sealed []byte) ([]byte, bool) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, false
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(s.name+"\x00"+key))
	return plain, err == nil
}

// Put stores value under key (replacing what was there); it expires after
// the store's time to live.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	_, err := s.kv.Put(ctx, Key(key), s.seal(key, value))
	return err
}

// Get returns the value under key, if there is one that has not expired.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := s.kv.Get(ctx, Key(key))
	if absent(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, ok := s.open(key, e.Value())
	return v, ok, nil
}

// Take returns the value under key and removes it, once: of two replicas
// taking the same key at once, exactly one gets it.
func (s *Store) Take(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := s.kv.Get(ctx, Key(key))
	if absent(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	err = s.kv.Purge(ctx, Key(key), jetstream.LastRevision(e.Revision()))
	if conflict(err) {
		return nil, false, nil // taken (or replaced) by someone else first
	}
	if err != nil {
		return nil, false, err
	}
	v, ok := s.open(key, e.Value())
	return v, ok, nil
}

// Delete removes the value under key.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.kv.Purge(ctx, Key(key))
	if absent(err) {
		return nil
	}
	return err
}

// Claim records key as claimed by holder unless it already is (by anyone):
// true for the one caller that claimed it. A claim lasts the store's time
// to live, so work claimed by a replica that then crashed is claimed again
// after it (an outbox mail: sent at most once more, never lost).
func (s *Store) Claim(ctx context.Context, key, holder string) (bool, error) {
	_, err := s.kv.Create(ctx, Key(key), s.seal(key, []byte(holder)))
	if conflict(err) {
		return false, nil
	}
	return err == nil, err
}
