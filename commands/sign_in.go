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
	// Channel: events.ChannelBrowser for the web console, "" for the API.
	Channel string
}

// SignedIn carries the token, shown to the client this once.
type SignedIn struct {
	UserID    string
	SessionID string
	Token     string
	ExpiresAt time.Time
	Result
}

// signInThrottle is the policy of SignInLimits. Attempts on one account
// run one at a time, so parallel guesses cannot get around it. It is
// security policy, so it lives here: every transport gets it.
type signInThrottle struct {
	accountAddress, account, address *ratelimit.Limiter
	locks                            *ratelimit.Locks
}

// Throttle scopes.
const (
	ScopeAccountAddress = "account_address"
	ScopeAccount        = "account"
	ScopeAddress        = "address"
	ScopeRegistration   = "registration"
	ScopePicture        = "picture"
)

// checkPassword verifies the given password against hash for account (a canonical
// username) as asked from address, under the throttling policy. A wrong
// password is ErrInvalidCredentials and counts against the account.
func (h *Handlers) checkPassword(account, address, given, hash string) error {
	pair := account + "\x00" + address
	if ok, wait := h.signIn.address.Allow(address); !ok {
		// Say the longest wait: retrying when the address may go again
		// would only meet the account's block.
		_, pairWait := h.signIn.accountAddress.Check(pair)
		_, accountWait := h.signIn.account.Check(account)
		return h.throttled(ScopeAddress, max(wait, pairWait, accountWait), account, address)
	}
	unlock := h.signIn.locks.Lock(account)
	defer unlock()
	if ok, wait := h.signIn.accountAddress.Check(pair); !ok {
		return h.throttled(ScopeAccountAddress, wait, account, address)
	}
	if ok, wait := h.signIn.account.Check(account); !ok {
		return h.throttled(ScopeAccount, wait, account, address)
	}
	ok, err := password.Verify(given, hash)
	if err != nil {
		return err
	}
	if !ok {
		h.signIn.accountAddress.Take(pair)
		h.signIn.account.Take(account)
		h.security.Warn("security event", "event", "password_check_failed", "account", account, "address", address)
		return ErrInvalidCredentials
	}
	return nil
}

func (h *Handlers) throttled(scope string, wait time.Duration, account, address string) error {
	h.metrics.Throttled(scope)
	h.security.Warn("security event", "event", "throttled", "scope", scope, "account", account, "address", address, "retry_after", wait.Round(time.Second).String())
	return &ThrottledError{RetryAfter: wait, Scope: scope}
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
	if err := h.checkPassword(validate.CanonicalUsername(cmd.Username), meta.ClientIP, cmd.Password, hash); err != nil {
		return SignedIn{}, err
	}
	if userID == "" || !user.Exists() {
		return SignedIn{}, ErrInvalidCredentials // the dummy hash matched: no such account
	}
	if user.Disabled {
		return SignedIn{}, ErrAccountDisabled // said only to whoever knows the password
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
		Channel:     cmd.Channel,
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
