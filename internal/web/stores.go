package web

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// expiring keeps values for a fixed time, at most max of them. Every entry
// lives as long as the others, so entries expire in the order they were
// put: a queue finds the expired ones without scanning the map, and when
// the store is full the oldest goes first. Nothing grows with traffic
// beyond max.
type expiring[V any] struct {
	mu    sync.Mutex
	now   func() time.Time
	ttl   time.Duration
	max   int
	seq   uint64
	m     map[string]expiringEntry[V]
	queue []queuedKey // put order; an item whose key was put again or taken is skipped
	head  int
}

type expiringEntry[V any] struct {
	v   V
	at  time.Time
	seq uint64
}

type queuedKey struct {
	key string
	seq uint64
}

func newExpiring[V any](now func() time.Time, ttl time.Duration, max int) *expiring[V] {
	return &expiring[V]{now: now, ttl: ttl, max: max, m: map[string]expiringEntry[V]{}}
}

func (s *expiring[V]) put(key string, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.seq++
	s.m[key] = expiringEntry[V]{v: v, at: now, seq: s.seq}
	s.queue = append(s.queue, queuedKey{key: key, seq: s.seq})
	s.evict(now)
}

// take returns the value and forgets it.
func (s *expiring[V]) take(key string) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	delete(s.m, key)
	if !ok || s.now().Sub(e.at) > s.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// get returns the value if it is there and not expired.
func (s *expiring[V]) get(key string) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || s.now().Sub(e.at) > s.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// has tells whether the key is there and not expired.
func (s *expiring[V]) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	return ok && s.now().Sub(e.at) <= s.ttl
}

func (s *expiring[V]) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

func (s *expiring[V]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// evict drops expired entries, then the oldest while over max, then
// compacts the queue once most of it is behind the head.
func (s *expiring[V]) evict(now time.Time) {
queue:
	for s.head < len(s.queue) {
		q := s.queue[s.head]
		e, ok := s.m[q.key]
		switch {
		case !ok || e.seq != q.seq: // taken, forgotten or put again later
		case now.Sub(e.at) > s.ttl || len(s.m) > s.max:
			delete(s.m, q.key)
		default:
			break queue
		}
		s.queue[s.head] = queuedKey{}
		s.head++
	}
	if s.head > 64 && s.head > len(s.queue)/2 {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
	// Keys put again leave stale items behind live ones; past twice the
	// live entries, rebuild the queue from the map in put order.
	if live := len(s.queue) - s.head; live > 2*len(s.m)+64 {
		fresh := make([]queuedKey, 0, len(s.m))
		for _, q := range s.queue[s.head:] {
			if e, ok := s.m[q.key]; ok && e.seq == q.seq {
				fresh = append(fresh, q)
			}
		}
		s.queue, s.head = fresh, 0
	}
}

// randomID is 144 random bits, URL-safe: CSP nonces and flash ids.
func randomID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// flash is a one-time message (and, once, a generated token or revealed
// secret) carried from a POST to the page it redirects to: kept in the
// console's StateStore (shared by replicas, sealed), only its key in a
// cookie. A signed-in session has at most one (the newest),
// keyed by the session, so their number is bounded by the sessions'.
type flash struct {
	userID  string
	message string
	secret  string // a token or revealed secret, shown once
	ref     string // what the secret belongs to
}

const (
	flashFor    = 5 * time.Minute
	maxFlashes  = 100_000
	maxConfirms = 100_000
)

// reauthFor is how long a confirmed password counts as recent. The
// confirmations are in the console's StateStore: shared by replicas, so a
// session confirms once whichever replica serves its next request.
const reauthFor = 10 * time.Minute
