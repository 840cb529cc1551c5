// Package keystore keeps one data key per account, outside the event log,
// for the personal data the account's events carry (crypto-shredding): the
// keys are stored wrapped (AES-256-GCM) under the service's secret key, in
// MongoDB (not a read model: never rebuilt), and deleting an account
// destroys its key, which makes its personal data in the log unreadable.
package keystore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/lru"
)

// Collection holds the wrapped data keys.
const Collection = "data_keys"

// ErrErased: the account's key was destroyed; its personal data is gone.
var ErrErased = errors.New("the account was erased")

// Store seals and opens personal data. Safe for concurrent use.
type Store struct {
	coll   *mongo.Collection
	master cipher.AEAD
	secret []byte // the secret key itself, only to derive the keys of other purposes (Derive)

	cache *lru.Cache[string, cached] // by owner; a destroyed key caches as nil
}

type cached struct {
	key  cipher.AEAD // nil: destroyed
	read time.Time   // when it was read from the database
}

// recheckAfter: a live key cached longer than this is read again, so a key
// another replica destroyed is forgotten here within it (shared state is
// the database; a destroyed key is final and stays cached).
const recheckAfter = time.Second

type keyDoc struct {
	ID          string    `bson:"_id"`
	Wrapped     []byte    `bson:"wrapped,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	DestroyedAt time.Time `bson:"destroyed_at,omitempty"`
}

// New opens the store; master is the service's 32-byte secret key.
func New(db *mongo.Database, master []byte) (*Store, error) {
	aead, err := newAEAD(master)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Store{coll: db.Collection(Collection), master: aead, secret: bytes.Clone(master), cache: lru.New[string, cached](100_000, nil)}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("want 32 bytes (AES-256), have %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Derive returns a 32-byte key for purpose (HKDF-SHA256 of the secret
// key): every replica with the same secret key derives the same one, and a
// key of one purpose tells nothing of the data keys or of another purpose.
func (s *Store) Derive(purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, s.secret, nil, "accountd/"+purpose, 32)
}

// ParseKey reads a secret key given as base64 (standard or URL-safe, with
// or without padding).
func ParseKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("want 32 random bytes, base64-encoded (openssl rand -base64 32)")
}

// key returns the owner's data key, creating it if asked.
func (s *Store) key(ctx context.Context, owner string, create bool) (cipher.AEAD, error) {
	if k, ok := s.cached(owner); ok {
		if k == nil {
			return nil, ErrErased
		}
		return k, nil
	}
	var doc keyDoc
	err := s.coll.FindOne(ctx, bson.M{"_id": owner}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments) && create:
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		nonce := make([]byte, s.master.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		doc = keyDoc{ID: owner, Wrapped: s.master.Seal(nonce, nonce, raw, []byte(owner)), CreatedAt: time.Now().UTC()}
		if _, err := s.coll.InsertOne(ctx, doc); err != nil {
			if !mongo.IsDuplicateKeyError(err) {
				return nil, err
			}
			return s.key(ctx, owner, false) // someone made it first
		}
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, ErrNoKey
	case err != nil:
		return nil, err
	}
	if doc.Wrapped == nil {
		s.remember(owner, nil)
		return nil, ErrErased
	}
	n := s.master.NonceSize()
	if len(doc.Wrapped) < n {
		return nil, errors.New("a wrapped data key is too short")
	}
	raw, err := s.master.Open(nil, doc.Wrapped[:n], doc.Wrapped[n:], []byte(owner))
	if err != nil {
		return nil, fmt.Errorf("unwrap the data key of %s (is the secret key right?): %w", owner, err)
	}
	k, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	s.remember(owner, k)
	return k, nil
}

// ErrNoKey: the owner never had personal data sealed.
var ErrNoKey = errors.New("no data key")

func (s *Store) cached(owner string) (cipher.AEAD, bool) {
	c, ok := s.cache.Get(owner)
	if !ok || (c.key != nil && time.Since(c.read) > recheckAfter) {
		return nil, false // a live key is read again now and then: destroyed elsewhere?
	}
	return c.key, true
}

func (s *Store) remember(owner string, k cipher.AEAD) {
	s.cache.Put(owner, cached{key: k, read: time.Now()})
}

// Destroy erases the owner's data key for good.
func (s *Store) Destroy(ctx context.Context, owner string) error {
	_, err := s.coll.UpdateOne(ctx, bson.M{"_id": owner},
		bson.M{"$unset": bson.M{"wrapped": ""}, "$set": bson.M{"destroyed_at": time.Now().UTC()}})
	if err != nil {
		return err
	}
	s.remember(owner, nil)
	return nil
}

// Forget drops a cached key: another process destroyed it.
func (s *Store) Forget(owner string) { s.cache.Remove(owner) }

// Seal encrypts a value for owner with a fresh nonce, bound to aad.
func (s *Store) Seal(ctx context.Context, owner, aad, value string) (string, error) {
	k, err := s.key(ctx, owner, true)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return events.SealedPrefix + base64.RawStdEncoding.EncodeToString(k.Seal(nonce, nonce, []byte(value), []byte(aad))), nil
}

// Open decrypts a sealed value (a plaintext one is returned as it is).
// An erased owner's value is ErrErased.
func (s *Store) Open(ctx context.Context, owner, aad, value string) (string, error) {
	if !events.Sealed(value) {
		return value, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(value[len(events.SealedPrefix):])
	if err != nil {
		return "", fmt.Errorf("sealed value: %w", err)
	}
	k, err := s.key(ctx, owner, false)
	if errors.Is(err, ErrNoKey) {
		return "", ErrErased // sealed, but no key: erased before keys were kept
	}
	if err != nil {
		return "", err
	}
	n := k.NonceSize()
	if len(raw) < n {
		return "", errors.New("sealed value too short")
	}
	plain, err := k.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("open sealed value: %w", err)
	}
	return string(plain), nil
}

// SealPayload seals a payload's personal fields, if it has any.
func (s *Store) SealPayload(ctx context.Context, owner string, p events.Payload) (events.Payload, error) {
	pp, ok := p.(events.Personal)
	if !ok {
		return p, nil
	}
	return pp.MapPersonal(owner, func(aad, v string) (string, error) {
		if events.Sealed(v) {
			return v, nil
		}
		return s.Seal(ctx, owner, aad, v)
	})
}

// OpenPayload opens a payload's personal fields; an erased owner's become
// "" and erased is true.
func (s *Store) OpenPayload(ctx context.Context, owner string, p events.Payload) (_ events.Payload, erased bool, err error) {
	pp, ok := p.(events.Personal)
	if !ok {
		return p, false, nil
	}
	out, err := pp.MapPersonal(owner, func(aad, v string) (string, error) {
		plain, err := s.Open(ctx, owner, aad, v)
		if errors.Is(err, ErrErased) {
			erased = true
			return "", nil
		}
		return plain, err
	})
	return out, erased, err
}

// ErrWrongSecretKey: the secret key does not open the data keys already
// stored, so it is not the key the other replicas (or earlier runs) used.
var ErrWrongSecretKey = errors.New("the secret key cannot open the existing data keys: it is not the key they were written with (give every replica the same ACCOUNTD_SECRET_KEY or --secret-key-file)")

// CheckSecretKey tries to unwrap a few of the stored data keys (the oldest
// and the newest): a replica started with another secret key must refuse
// to start before it reads or seals anything, rather than park events it
// cannot open or seal new data no other replica can read. An empty store
// passes.
func (s *Store) CheckSecretKey(ctx context.Context) error {
	for _, order := range []int{1, -1} {
		cur, err := s.coll.Find(ctx, bson.M{"wrapped": bson.M{"$exists": true}},
			options.Find().SetSort(bson.D{{Key: "created_at", Value: order}}).SetLimit(3))
		if err != nil {
			return fmt.Errorf("read the data keys: %w", err)
		}
		var docs []keyDoc
		if err := cur.All(ctx, &docs); err != nil {
			return fmt.Errorf("read the data keys: %w", err)
		}
		for _, doc := range docs {
			n := s.master.NonceSize()
			if len(doc.Wrapped) < n {
				continue // not the key's fault; Open reports it for that account
			}
			if _, err := s.master.Open(nil, doc.Wrapped[:n], doc.Wrapped[n:], []byte(doc.ID)); err != nil {
				return ErrWrongSecretKey
			}
		}
	}
	return nil
}

// KeyID names the secret key without revealing it: a hash of a MAC of a
// fixed string, so replicas can compare their keys in public.
func (s *Store) KeyID() string {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("accountd secret key id"))
	sum := sha256.Sum256(mac.Sum(nil))
	return hex.EncodeToString(sum[:8])
}
