package httpapi

import (
	"sync"
	"time"

	"github.com/accountd/accountd/queries"
)

// seenWrites remembers, per user, the positions of their latest writes, so
// their next query waits for the read models to include them.
type seenWrites struct {
	now   func() time.Time
	mu    sync.Mutex
	users map[string]seenEntry
}

type seenEntry struct {
	seen queries.Seen
	at   time.Time
}

// keepSeen: past this, the read models have long caught up.
const keepSeen = time.Minute

func newSeenWrites(now func() time.Time) *seenWrites {
	if now == nil {
		now = time.Now
	}
	return &seenWrites{now: now, users: map[string]seenEntry{}}
}

// wrote records that userID's write reached position for these projectors.
func (s *seenWrites) wrote(userID string, position uint64, projectors ...string) {
	if position == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.users[userID]
	if !ok {
		e.seen = queries.Seen{}
	}
	for _, p := range projectors {
		e.seen[p] = max(e.seen[p], position)
	}
	e.at = s.now()
	s.users[userID] = e
}

func (s *seenWrites) of(userID string) queries.Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := queries.Seen{}
	for k, v := range s.users[userID].seen {
		out[k] = v
	}
	return out
}

func (s *seenWrites) prune() {
	cutoff := s.now().Add(-keepSeen)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.users {
		if e.at.Before(cutoff) {
			delete(s.users, id)
		}
	}
}
