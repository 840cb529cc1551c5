package commands

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/accountd/accountd/events"
)

// Uses of credentials are recorded coarsely: at most once a minute per
// token or session, sooner only when a token comes from an address it was
// not used from lately. Never one event per request.
const useNoteEvery = time.Minute

type useNotes struct {
	mu   sync.Mutex
	last map[string]noted
}

type noted struct {
	at  time.Time
	ips []string // recent addresses, newest last
}

func newUseNotes() *useNotes { return &useNotes{last: map[string]noted{}} }

// due says whether a use of key from ip should be recorded now, and if so
// remembers it as recorded.
func (u *useNotes) due(key, ip string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	n, ok := u.last[key]
	if ok && now.Sub(n.at) < useNoteEvery && slices.Contains(n.ips, ip) {
		return false
	}
	n.at = now
	if !slices.Contains(n.ips, ip) {
		n.ips = append(n.ips, ip)
		if len(n.ips) > 16 {
			n.ips = n.ips[1:]
		}
	}
	u.last[key] = n
	return true
}

func (u *useNotes) prune(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, n := range u.last {
		if now.Sub(n.at) > time.Hour {
			delete(u.last, k)
		}
	}
}

// NoteTokenUse records that a token was used, when a record is due. The
// caller has just checked the token: it is live.
type NoteTokenUse struct {
	UserID, TokenID, ClientIP string
}

// NoteTokenUse is cheap when no record is due (nearly always).
func (h *Handlers) NoteTokenUse(ctx context.Context, cmd NoteTokenUse, meta events.Metadata) error {
	now := h.now().UTC()
	if !h.uses.due("token:"+cmd.TokenID, cmd.ClientIP, now) {
		return nil
	}
	meta.Time = now
	_, err := record(ctx, h, h.tokens, events.TokensStream(cmd.UserID), meta,
		events.TokenUsedV1{TokenID: cmd.TokenID, UserID: cmd.UserID, At: now.Truncate(time.Second), ClientIP: cmd.ClientIP})
	return err
}

// NoteSessionSeen records that a session was used, when a record is due.
// The caller has just checked the session: it is live.
type NoteSessionSeen struct {
	UserID, SessionID string
}

// NoteSessionSeen is cheap when no record is due (nearly always).
func (h *Handlers) NoteSessionSeen(ctx context.Context, cmd NoteSessionSeen, meta events.Metadata) error {
	now := h.now().UTC()
	if !h.uses.due("session:"+cmd.SessionID, "", now) {
		return nil
	}
	meta.Time = now
	_, err := record(ctx, h, h.sessions, events.SessionStream(cmd.SessionID), meta,
		events.SessionSeenV1{SessionID: cmd.SessionID, UserID: cmd.UserID, At: now.Truncate(time.Second)})
	return err
}
