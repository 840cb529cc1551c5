package commands

import (
	"context"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/ratelimit"
	"github.com/accountd/accountd/internal/tokens"
	"github.com/accountd/accountd/internal/validate"
)

// SignIn exchanges a username and password for a session token. The
// client's address, which throttling keys on, comes from the metadata.
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

// signInThrottle limits attempts per client address and per account, and
// runs attempts on one account one at a time, so parallel guesses cannot
// get around the limit. It is security policy, so it lives here: every
// transport gets it.
type signInThrottle struct {
	account, address *ratelimit.Limiter
	locks            *ratelimit.Locks
}

// SignIn checks the password and starts a session. Whether the name exists
// or the password is wrong, the answer (and its timing) is the same.
func (h *Handlers) SignIn(ctx context.Context, cmd SignIn, meta events.Metadata) (res SignedIn, err error) {
	defer func() { h.done("sign_in", err) }()
	var vs []validate.Violation
	if cmd.Username == "" {
		vs = append(vs, validate.Violation{Field: "username", Code: "request.required"})
	}
	if cmd.Password == "" {
		vs = append(vs, validate.Violation{Field: "password", Code: "request.required"})
	}
	if err := invalid(vs); err != nil {
		return SignedIn{}, err
	}
	if ok, wait := h.signIn.address.Allow(meta.ClientIP); !ok {
		h.metrics.Throttled("address")
		return SignedIn{}, &ThrottledError{RetryAfter: wait, Scope: "address"}
	}
	account := validate.CanonicalUsername(cmd.Username)
	unlock := h.signIn.locks.Lock(account)
	defer unlock()
	if ok, wait := h.signIn.account.Allow(account); !ok {
		h.metrics.Throttled("account")
		return SignedIn{}, &ThrottledError{RetryAfter: wait, Scope: "account"}
	}

	userID, err := h.holderOf(ctx, cmd.Username)
	if err != nil {
		return SignedIn{}, err
	}
	hash := h.dummyHash
	var user User
	if userID != "" {
		if user, _, err = h.users.load(ctx, events.UserStream(userID), true); err != nil {
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
	minted, err := tokens.NewSession()
	if err != nil {
		return SignedIn{}, err
	}
	meta = h.stamp(meta)
	meta.Actor = userID
	started := events.SessionStartedV1{
		SessionID:   minted.ID,
		UserID:      userID,
		TokenDigest: minted.Digest,
		ExpiresAt:   meta.Time.Add(h.sessionTTL).Truncate(time.Second),
	}
	out, err := update(ctx, h, h.sessions, events.SessionStream(minted.ID), nil, meta, func(s Session) ([]events.Payload, error) {
		return s.start(started)
	})
	if err != nil {
		return SignedIn{}, err
	}
	return SignedIn{UserID: userID, SessionID: minted.ID, Token: minted.Token, ExpiresAt: started.ExpiresAt,
		Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}
