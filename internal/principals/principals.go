// Package principals resolves a bearer credential to who presents it, in
// memory, so that checking a token never touches a database. The index is
// rebuilt from the event log at start and follows it live; this process's
// commands also tell it directly (commands.Observer), so a new token works,
// and an ended one stops working, on the very next request.
package principals

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/tokens"
)

// Credential kinds.
const (
	KindSession = "session"
)

// Credential is what the caller presented.
type Credential struct {
	Kind      string
	ID        string
	ExpiresAt time.Time
}

// Principal is who a valid credential belongs to, with what the transport
// needs of the account on every request.
type Principal struct {
	UserID     string
	Username   string
	Language   string // preferred language, "" if none
	Timezone   string // preferred time zone, "" if none
	Revision   uint64 // the account's stream revision this index has seen
	Credential Credential
}

type account struct {
	username, language, timezone string
	revision                     uint64
}

type session struct {
	userID    string
	digest    string
	expiresAt time.Time
}

// Index is safe for concurrent use.
type Index struct {
	now func() time.Time

	mu       sync.RWMutex
	accounts map[string]account
	live     map[string]session
	ended    map[string]time.Time // ended sessions, kept until they would have expired

	position atomic.Uint64 // $all position the index has applied from the log
	eventAt  atomic.Int64  // unix nanos of the event at position
	caughtUp chan struct{}
	once     sync.Once
}

// New returns an empty index.
func New(now func() time.Time) *Index {
	if now == nil {
		now = time.Now
	}
	return &Index{now: now, accounts: map[string]account{}, live: map[string]session{}, ended: map[string]time.Time{}, caughtUp: make(chan struct{})}
}

// Observe applies events this process just appended (commands.Observer).
func (x *Index) Observe(recs []events.Recorded) {
	for _, r := range recs {
		x.apply(r, true)
	}
}

// apply folds one event in; applying an event twice changes nothing.
// direct: told by this process's commands rather than read from the log.
func (x *Index) apply(r events.Recorded, direct bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch p := r.Payload.(type) {
	case events.UserRegisteredV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) {
			a.username = p.Username
			a.language, a.timezone = events.Value(p.PreferredLanguage), events.Value(p.PreferredTimezone)
		})
	case events.UserRenamedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) { a.username = p.NewUsername })
	case events.UserProfileUpdatedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) {
			if p.PreferredLanguage != nil {
				a.language = *p.PreferredLanguage
			}
			if p.PreferredTimezone != nil {
				a.timezone = *p.PreferredTimezone
			}
		})
	case events.SessionStartedV1:
		if _, gone := x.ended[p.SessionID]; !gone {
			x.live[p.SessionID] = session{userID: p.UserID, digest: p.TokenDigest, expiresAt: p.ExpiresAt}
		}
	case events.SessionEndedV1:
		expires := x.now().Add(48 * time.Hour)
		if s, ok := x.live[p.SessionID]; ok {
			expires = s.expiresAt
		}
		delete(x.live, p.SessionID)
		x.ended[p.SessionID] = expires
	}
}

// updateAccount applies change if the event is the account's next: user
// events arrive both directly and from the log. The log delivers them in
// order; a direct one that skips a revision written elsewhere waits for
// the log, so no change is lost.
func (x *Index) updateAccount(userID string, revision uint64, direct bool, change func(*account)) {
	a, ok := x.accounts[userID]
	switch {
	case ok && revision <= a.revision:
		return
	case direct && (ok && revision != a.revision+1 || !ok && revision != 0):
		return
	}
	change(&a)
	a.revision = revision
	x.accounts[userID] = a
}

// Authenticate checks a bearer token.
func (x *Index) Authenticate(token string) (Principal, bool) {
	id, secret, ok := tokens.ParseSession(token)
	if !ok {
		return Principal{}, false
	}
	x.mu.RLock()
	s, ok := x.live[id]
	a := x.accounts[s.userID]
	x.mu.RUnlock()
	if !ok || !x.now().Before(s.expiresAt) || !tokens.Matches(secret, s.digest) {
		return Principal{}, false
	}
	return Principal{
		UserID: s.userID, Username: a.username, Language: a.language, Timezone: a.timezone, Revision: a.revision,
		Credential: Credential{Kind: KindSession, ID: id, ExpiresAt: s.expiresAt},
	}, true
}

// Sessions counts live sessions.
func (x *Index) Sessions() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.live)
}

// Prune drops expired sessions; run it now and then.
func (x *Index) Prune() {
	now := x.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, s := range x.live {
		if !now.Before(s.expiresAt) {
			delete(x.live, id)
		}
	}
	for id, until := range x.ended {
		if now.After(until) {
			delete(x.ended, id)
		}
	}
}

// Follow applies the log from where the index stands until ctx ends or the
// subscription drops; run it under a supervisor, which resumes it.
func (x *Index) Follow(ctx context.Context, client *esdb.Client) error {
	return eventlog.Follow(ctx, client, x.position.Load(), []string{events.UserCategory + ".", events.SessionCategory + "."}, (*follower)(x))
}

// CaughtUp is closed once the index has applied the whole log as it stood
// when it first subscribed.
func (x *Index) CaughtUp() <-chan struct{} { return x.caughtUp }

// Position is the $all position the index has applied, and the time of the
// event there (zero when only a checkpoint told it).
func (x *Index) Position() (uint64, time.Time) {
	at := x.eventAt.Load()
	if at == 0 {
		return x.position.Load(), time.Time{}
	}
	return x.position.Load(), time.Unix(0, at)
}

// follower is the index as the log's reader sees it.
type follower Index

func (f *follower) Event(stream string, revision uint64, decode func() (events.Recorded, error)) {
	if (*Index)(f).has(stream, revision) {
		return // told directly by this process's commands already
	}
	// An undecodable event has nothing the index could use; the
	// projectors park it for someone to look at.
	if rec, err := decode(); err == nil {
		(*Index)(f).apply(rec, false)
	}
}

// has reports whether the index already holds the event at stream@revision.
func (x *Index) has(stream string, revision uint64) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	switch events.Category(stream) {
	case events.UserCategory:
		a, ok := x.accounts[events.StreamID(stream)]
		return ok && revision <= a.revision
	case events.SessionCategory:
		id := events.StreamID(stream)
		if _, ended := x.ended[id]; ended {
			return true
		}
		_, live := x.live[id]
		return live && revision == 0
	}
	return false
}

func (f *follower) Checkpoint(position uint64, at time.Time) {
	if position > f.position.Load() {
		f.position.Store(position)
		if !at.IsZero() {
			f.eventAt.Store(at.UnixNano())
		}
	}
}

func (f *follower) CaughtUp() { f.once.Do(func() { close(f.caughtUp) }) }
