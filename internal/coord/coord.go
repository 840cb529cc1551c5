// Package coord is what replicas of the service share beyond the event log:
// leases (one relay, one runner of each background job), rate limits that
// count across replicas, and short-lived values (a token shown once, a
// recent password confirmation) that any replica may be asked for next. All
// of it lives in JetStream key-value buckets on the NATS servers the service
// already runs, so it adds no server; the event log stays the only record of
// what happened, and nothing here needs a backup: losing it loses leases
// (taken again within a TTL), partly refilled limits and pages shown once.
package coord

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names are prefixed so they are easy to tell apart from anything
// else on a shared NATS account.
const bucketPrefix = "accountd_"

// Coord opens buckets on one JetStream context. Safe for concurrent use.
type Coord struct {
	js       jetstream.JetStream
	replicas int
	leaseTTL time.Duration

	mu      sync.Mutex
	buckets map[string]jetstream.KeyValue
}

// Options tune the buckets Coord creates.
type Options struct {
	// Replicas is each bucket's number of copies on a NATS cluster (1 on a
	// single server; 3 on a three-node cluster survives one node).
	Replicas int
	// LeaseTTL is every lease's time to live (they share one bucket);
	// zero: DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// New returns a Coord; buckets are created on first use, idempotently, so
// replicas starting at once agree on them.
func New(js jetstream.JetStream, opts Options) *Coord {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	return &Coord{js: js, replicas: max(opts.Replicas, 1), leaseTTL: opts.LeaseTTL, buckets: map[string]jetstream.KeyValue{}}
}

// bucket creates (or finds) a bucket whose values expire ttl after their
// last write (0: never).
func (c *Coord) bucket(ctx context.Context, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	full := bucketPrefix + name
	c.mu.Lock()
	kv, ok := c.buckets[full]
	c.mu.Unlock()
	if ok {
		return kv, nil
	}
	cfg := jetstream.KeyValueConfig{Bucket: full, TTL: ttl, History: 1, Storage: jetstream.FileStorage, Replicas: c.replicas}
	if ttl > 0 {
		// Expiry leaves a marker, so watchers see a key go.
		cfg.LimitMarkerTTL = max(ttl, time.Second)
	}
	// Never fewer copies than the bucket has: a tool that sees one server
	// (or was given no count) must not take an existing bucket's copies away.
	if s, err := c.js.Stream(ctx, "KV_"+full); err == nil {
		cfg.Replicas = max(cfg.Replicas, s.CachedInfo().Config.Replicas)
	}
	kv, err := c.js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		// Two replicas creating the bucket at once: the loser finds it.
		if existing, gerr := c.js.KeyValue(ctx, full); gerr == nil {
			kv, err = existing, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("coordination bucket %s: %w", full, err)
	}
	c.mu.Lock()
	c.buckets[full] = kv
	c.mu.Unlock()
	return kv, nil
}

// Key turns any string (a username, an address, several joined) into a
// valid key that does not show it: keys are visible to whoever can read
// the NATS account, and limits are keyed by personal data.
func Key(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// validName is what bucket and lease names may hold.
func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// conflict says whether err is a lost compare-and-set (another replica
// wrote the key first).
func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// absent says whether err means the key has no value (never written,
// deleted or expired).
func absent(err error) bool {
	return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}
