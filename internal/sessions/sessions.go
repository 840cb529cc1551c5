// Package sessions keeps the live sign-in sessions in memory, so checking a
// bearer token never touches a database. The table is rebuilt from the event
// log at start and followed live; commands also tell it directly so that a
// token works on the very next request.
package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

type entry struct {
	userID    string
	digest    string
	expiresAt time.Time
}

// Table is safe for concurrent use.
type Table struct {
	now   func() time.Time
	mu    sync.RWMutex
	live  map[string]entry
	ended map[string]time.Time // ended sessions, kept until they would have expired
}

// New returns an empty table.
func New(now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	return &Table{now: now, live: map[string]entry{}, ended: map[string]time.Time{}}
}

// Started records a session.
func (t *Table) Started(s events.SessionStartedV1) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, gone := t.ended[s.SessionID]; gone {
		return // the end was seen first (replay order across sources)
	}
	t.live[s.SessionID] = entry{userID: s.UserID, digest: s.TokenDigest, expiresAt: s.ExpiresAt}
}

// Ended forgets a session.
func (t *Table) Ended(sessionID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	expires := t.now().Add(48 * time.Hour)
	if e, ok := t.live[sessionID]; ok {
		expires = e.expiresAt
	}
	delete(t.live, sessionID)
	t.ended[sessionID] = expires
}

// Principal is who a valid token belongs to.
type Principal struct {
	UserID    string
	SessionID string
}

// Authenticate checks a bearer token.
func (t *Table) Authenticate(token string) (Principal, bool) {
	id, secret, ok := commands.ParseToken(token)
	if !ok {
		return Principal{}, false
	}
	t.mu.RLock()
	e, ok := t.live[id]
	t.mu.RUnlock()
	if !ok || !t.now().Before(e.expiresAt) || !commands.DigestMatches(secret, e.digest) {
		return Principal{}, false
	}
	return Principal{UserID: e.userID, SessionID: id}, true
}

// Prune drops expired sessions; run it now and then.
func (t *Table) Prune() {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, e := range t.live {
		if !now.Before(e.expiresAt) {
			delete(t.live, id)
		}
	}
	for id, until := range t.ended {
		if now.After(until) {
			delete(t.ended, id)
		}
	}
}

// Follow replays session events from the log and then follows it live until
// ctx ends; ready is closed once the table has caught up.
func (t *Table) Follow(ctx context.Context, client *esdb.Client, log *slog.Logger, ready chan<- struct{}) error {
	caughtUp := false
	var from esdb.AllPosition = esdb.Start{}
	for ctx.Err() == nil {
		sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
			From:   from,
			Filter: &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"session."}},
		})
		if err != nil {
			log.Warn("session feed: subscribe failed, retrying", "err", err)
			if !sleep(ctx, time.Second) {
				break
			}
			continue
		}
		for {
			ev := sub.Recv()
			if ev.SubscriptionDropped != nil {
				break
			}
			if ev.CheckPointReached != nil {
				from = *ev.CheckPointReached
			}
			if ev.CaughtUp != nil && !caughtUp {
				caughtUp = true
				close(ready)
			}
			if ev.EventAppeared == nil {
				continue
			}
			e := ev.EventAppeared.Event
			from = e.Position
			t.apply(e.EventType, e.Data, log)
		}
		sub.Close()
		if ctx.Err() == nil {
			log.Warn("session feed dropped, resubscribing")
			sleep(ctx, 200*time.Millisecond)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

func (t *Table) apply(eventType string, data []byte, log *slog.Logger) {
	switch eventType {
	case events.SessionStarted:
		var p events.SessionStartedV1
		if err := json.Unmarshal(data, &p); err != nil {
			log.Error("session feed: unreadable event", "type", eventType, "err", err)
			return
		}
		t.Started(p)
	case events.SessionEnded:
		var p events.SessionEndedV1
		if err := json.Unmarshal(data, &p); err != nil {
			log.Error("session feed: unreadable event", "type", eventType, "err", err)
			return
		}
		t.Ended(p.SessionID)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
