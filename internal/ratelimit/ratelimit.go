// Package ratelimit provides keyed token buckets and keyed locks, kept in
// this process (commands.MemoryLimits: one replica's own; several replicas
// share limits through the coordination store instead).
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key.
type Limiter struct {
	burst float64
	every time.Duration // one token is added per interval
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New allows burst attempts at once, then one per interval.
func New(burst int, every time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{burst: float64(burst), every: every, now: now, buckets: map[string]*bucket{}}
}

// Allow takes a token for key; when none is left it says how long until one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.every))
	return false, wait
}

// Check says whether key has a token left, without taking it, and if not
// how long until it has.
func (l *Limiter) Check(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true, 0
	}
	tokens := math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) * float64(l.every))
}

// Take takes a token for key even when none is left (the bucket goes
// negative, so repeated failures push the next allowed attempt out).
func (l *Limiter) Take(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every)) - 1
	b.tokens = math.Max(b.tokens, -l.burst) // bounded: a storm cannot lock a key for ever
	b.at = now
}

// Give returns a token taken before (an attempt counted up front that
// turned out not to count), never past a full bucket.
func (l *Limiter) Give(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return // full already
	}
	b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every)+1)
	b.at = now
}

// Prune forgets buckets that have refilled, bounding memory.
func (l *Limiter) Prune() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.every) >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// Locks hands out one mutex per key, so attempts on one account run one at
// a time and parallel guesses cannot outrun the limiter.
type Locks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu    sync.Mutex
	users int
}

// NewLocks returns an empty set.
func NewLocks() *Locks { return &Locks{locks: map[string]*keyLock{}} }

// Lock locks key and returns its unlock function.
func (l *Locks) Lock(key string) func() {
	l.mu.Lock()
	k, ok := l.locks[key]
	if !ok {
		k = &keyLock{}
		l.locks[key] = k
	}
	k.users++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		k.users--
		if k.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
