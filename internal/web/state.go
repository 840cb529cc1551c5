package web

import (
	"context"
	"encoding/json"
	"time"
)

// StateStore keeps the console's short-lived values (a flash for the page
// a form redirects to, a recent password confirmation) where the next
// request finds them, whichever replica serves it. The service gives
// coord.Store (JetStream KV, sealed with a key derived from the secret
// key, expiring after a time to live); without one, the values stay in
// this process (tests, a single process).
type StateStore interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Take returns the value and removes it, once.
	Take(ctx context.Context, key string) ([]byte, bool, error)
	Delete(ctx context.Context, key string) error
}

// memoryState is a StateStore in this process. State: per process, so
// right for one replica only.
type memoryState struct{ e *expiring[[]byte] }

func newMemoryState(now func() time.Time, ttl time.Duration, max int) memoryState {
	return memoryState{newExpiring[[]byte](now, ttl, max)}
}

func (m memoryState) Put(_ context.Context, key string, value []byte) error {
	m.e.put(key, value)
	return nil
}

func (m memoryState) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := m.e.get(key)
	return v, ok, nil
}

func (m memoryState) Take(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := m.e.take(key)
	return v, ok, nil
}

func (m memoryState) Delete(_ context.Context, key string) error {
	m.e.forget(key)
	return nil
}

// flashRecord is a flash as stored.
type flashRecord struct {
	UserID  string    `json:"u,omitempty"`
	Message string    `json:"m,omitempty"`
	Secret  string    `json:"s,omitempty"`
	Ref     string    `json:"r,omitempty"`
	At      time.Time `json:"at"`
}

// keepFlash stores f under key for the next page. A store that fails loses
// the message (and a secret shown once: the token exists, and can be
// deleted and created again); it is logged, the step itself succeeded.
func (c *Console) keepFlash(ctx context.Context, key string, f flash) {
	raw, _ := json.Marshal(flashRecord{UserID: f.userID, Message: f.message, Secret: f.secret, Ref: f.ref, At: c.now()})
	if err := c.flashes.Put(context.WithoutCancel(ctx), key, raw); err != nil {
		c.log.Error("console message not kept for the next page", "err", err)
	}
}

// takeFlashAt returns the flash under key, once, if it is not older than
// flashFor on the console's clock.
func (c *Console) takeFlashAt(ctx context.Context, key string) (flash, bool) {
	raw, ok, err := c.flashes.Take(ctx, key)
	if err != nil {
		c.log.Warn("console message not read", "err", err)
		return flash{}, false
	}
	var rec flashRecord
	if !ok || json.Unmarshal(raw, &rec) != nil || c.now().Sub(rec.At) > flashFor {
		return flash{}, false
	}
	return flash{userID: rec.UserID, message: rec.Message, secret: rec.Secret, ref: rec.Ref}, true
}

// confirmNow records that the session confirmed the password now. A store
// that fails only means the password is asked again.
func (c *Console) confirmNow(ctx context.Context, sessionID string) {
	raw, _ := c.now().MarshalText()
	if err := c.confirmed.Put(context.WithoutCancel(ctx), sessionID, raw); err != nil {
		c.log.Warn("password confirmation not kept; it is asked again", "err", err)
	}
}

// confirmedRecently says whether the session confirmed the password
// within reauthFor; a store that cannot say means no (asked again).
func (c *Console) confirmedRecently(ctx context.Context, sessionID string) bool {
	raw, ok, err := c.confirmed.Get(ctx, sessionID)
	if err != nil {
		c.log.Warn("password confirmation not read; it is asked again", "err", err)
		return false
	}
	var at time.Time
	if !ok || at.UnmarshalText(raw) != nil {
		return false
	}
	age := c.now().Sub(at)
	return age >= -time.Minute && age <= reauthFor // a clock a minute ahead on another replica still counts
}

// forgetSession drops what the console keeps for a session that ended.
func (c *Console) forgetSession(ctx context.Context, sessionID string) {
	ctx = context.WithoutCancel(ctx)
	if err := c.confirmed.Delete(ctx, sessionID); err != nil {
		c.log.Warn("password confirmation of an ended session not dropped; it expires", "err", err)
	}
	if err := c.flashes.Delete(ctx, sessionFlashKey(sessionID)); err != nil {
		c.log.Warn("console message of an ended session not dropped; it expires", "err", err)
	}
}
