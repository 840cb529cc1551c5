package projector

import (
	"context"
	"sync"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
)

// Tracker is read-your-writes: it is told of every event this process's
// commands append (commands.Observer), remembers per actor the position of
// their latest event each projector will apply, and lets a query wait until
// those projectors have applied them. Neither the transport nor a use case
// decides which read models a write affects: the projectors' categories do.
type Tracker struct {
	progress   *Progress
	byCategory map[string][]string // stream category -> projector names
	now        func() time.Time

	mu     sync.Mutex
	actors map[string]seen
}

type seen struct {
	positions map[string]uint64 // projector -> position
	at        time.Time
}

// keepSeen: past this, the read models have long caught up.
const keepSeen = time.Minute

// NewTracker tracks the given projectors' progress.
func NewTracker(progress *Progress, projectors []projections.Projector, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	t := &Tracker{progress: progress, byCategory: map[string][]string{}, now: now, actors: map[string]seen{}}
	for _, p := range projectors {
		for _, c := range p.Categories {
			t.byCategory[c] = append(t.byCategory[c], p.Name)
		}
	}
	return t
}

// Observe implements commands.Observer.
func (t *Tracker) Observe(recs []events.Recorded) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range recs {
		category := events.Category(r.Stream)
		t.saw(r.Metadata.Actor, category, r.Position)
		// The owner of a per-user stream sees changes made to it by others
		// (an admin, the system revoking a reused token) too.
		owner := events.Owner(r.Stream)
		if category == events.SessionCategory {
			// A session's stream is named by the session: its user is in
			// the payload (an admin disabling an account ends them).
			owner = sessionOwner(r.Payload)
		}
		if owner != "" && owner != r.Metadata.Actor {
			t.saw(owner, category, r.Position)
		}
	}
}

func sessionOwner(p events.Payload) string {
	switch p := p.(type) {
	case events.SessionStartedV1:
		return p.UserID
	case events.SessionEndedV1:
		return p.UserID
	case events.SessionSeenV1:
		return p.UserID
	}
	return ""
}

func (t *Tracker) saw(user, category string, position uint64) {
	if user == "" || user == events.ActorAnonymous || user == events.ActorSystem {
		return
	}
	s, ok := t.actors[user]
	if !ok {
		s.positions = map[string]uint64{}
	}
	for _, p := range t.byCategory[category] {
		s.positions[p] = max(s.positions[p], position)
	}
	s.at = t.now()
	t.actors[user] = s
}

// WaitForCaller blocks until the named projectors have applied everything
// userID wrote through this process, or ctx ends.
func (t *Tracker) WaitForCaller(ctx context.Context, userID string, projectors ...string) {
	if userID == "" {
		return
	}
	t.mu.Lock()
	s := t.actors[userID]
	want := make([]uint64, len(projectors))
	for i, p := range projectors {
		want[i] = s.positions[p]
	}
	t.mu.Unlock()
	for i, p := range projectors {
		if want[i] > 0 && t.progress.Wait(ctx, p, want[i]) != nil {
			return
		}
	}
}

// Changed returns a channel closed the next time any projector advances.
func (t *Tracker) Changed() <-chan struct{} { return t.progress.Changed() }

// Prune forgets actors whose writes the read models have long applied.
func (t *Tracker) Prune() {
	cutoff := t.now().Add(-keepSeen)
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.actors {
		if s.at.Before(cutoff) {
			delete(t.actors, id)
		}
	}
}
