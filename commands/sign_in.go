package commands

import (
	"context"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/password"
)

// SignIn exchanges a username and password for a session token.
type SignIn struct {
	Username string
	Password string
}

// SignedIn carries the token, shown to the client this once.
type SignedIn struct {
	UserID    string
	SessionID string
	Token     string
	ExpiresAt time.Time
	Result
}

// SignIn checks the password and starts a session. Whether the name exists
// or the password is wrong, the answer (and its timing) is the same.
// Rate limiting is the caller's: it needs the client's address.
func (h *Handlers) SignIn(ctx context.Context, cmd SignIn, meta events.Metadata) (SignedIn, error) {
	userID := ""
	if cmd.Username != "" {
		var err error
		if userID, err = h.HolderOf(ctx, cmd.Username); err != nil {
			return SignedIn{}, err
		}
	}
	hash := h.dummyHash
	var user User
	if userID != "" {
		var err error
		if user, _, err = h.users.Load(ctx, events.UserStream(userID), true); err != nil {
			return SignedIn{}, err
		}
		hash = user.PasswordHash
	}
	ok, err := password.Verify(cmd.Password, hash)
	if err != nil {
		return SignedIn{}, err
	}
	if !ok || userID == "" || !user.Exists() {
		return SignedIn{}, ErrInvalidCredentials
	}
	sessionID, token, digest, err := newToken()
	if err != nil {
		return SignedIn{}, err
	}
	meta = h.stamp(meta)
	meta.Actor = userID
	started := events.SessionStartedV1{
		SessionID:   sessionID,
		UserID:      userID,
		TokenDigest: digest,
		ExpiresAt:   meta.Time.Add(h.sessionTTL).Truncate(time.Second),
	}
	res, err := h.sessions.Append(ctx, events.SessionStream(sessionID), eventlog.NoStream, Session{}, meta,
		eventlog.NewEvent{Type: events.SessionStarted, Data: started})
	if err != nil {
		return SignedIn{}, err
	}
	if h.registry != nil {
		h.registry.Started(started)
	}
	return SignedIn{UserID: userID, SessionID: sessionID, Token: token, ExpiresAt: started.ExpiresAt, Result: res}, nil
}
