package commands

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/devices"
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
	// Device is the device value the client kept from an earlier sign-in
	// (the console's device cookie, the API's Accountd-Device header); ""
	// when it has none. One that is not valid for the account is ignored.
	Device string
}

// SignedIn carries the token, shown to the client this once.
type SignedIn struct {
	UserID    string
	SessionID string
	Token     string
	ExpiresAt time.Time
	// Device is the device value for the client to keep and present at its
	// next sign-in (the same device renewed, or a new one), valid until
	// DeviceExpiresAt.
	Device          string
	DeviceExpiresAt time.Time
	Result
}

// signInThrottle is the policy of SignInLimits. It is security policy, so
// it lives here: every transport gets it. Its buckets are the Limits'
// (shared by every replica when the service runs several; a store that
// cannot be reached refuses the attempt, 503, rather than letting it
// through). Each check takes its tokens before the password is verified
// and gives them back when it was right, so parallel guesses, on one
// replica or on several, cannot get around it.
type signInThrottle struct {
	accountAddress, account, address *limit
	// known counts the failures of a known device or session.
	known *limit
	// locks run the checks that share a bucket one at a time in this
	// process: not for the count (the buckets are right across replicas
	// without them) but so that a known device's attempts wait on each
	// other and never on the guesses at the account. State: per process,
	// harmless (a lock held for one password check).
	locks   *ratelimit.Locks
	devices *devices.Signer
}

// Throttle scopes.
const (
	ScopeAccountAddress = "account_address"
	ScopeAccount        = "account"
	ScopeAddress        = "address"
	ScopeDevice         = "device"
	ScopeSession        = "session"
	ScopeRegistration   = "registration"
	ScopePicture        = "picture"
)

// credentialSession is the credential kind of a session in the metadata
// (principals.KindSession).
const credentialSession = "session"

// decoyUserID names a user stream that never has events: a sign-in whose
// name is no account's reads it, and checks the device value against it,
// so that it does the same work as one with a wrong password.
const decoyUserID = "00000000-0000-0000-0000-000000000000"

// passwordCheck is one password check and what throttling keys on.
type passwordCheck struct {
	// account is the canonical username: names of no account are
	// throttled like real ones, so the answers do not tell them apart.
	account string
	// userID is the account's id, for the security log; "" when no account
	// has the name (the log then names nobody: the "name" may be a
	// password typed in the wrong field).
	userID  string
	address string
	// known is the bucket of a proof that this client signed in to the
	// account before: the device value's device, or the session asking to
	// confirm the password; "" when there is none. knownScope says which.
	known, knownScope string
}

// forSession is the check a signed-in session makes to confirm the
// password (change it, reveal a secret, delete the account): the session
// proves an earlier sign-in, like a device value, so it has its own bucket
// and the account-wide ceiling does not block it; a token shares the
// account's buckets with everyone else (a token may mint more tokens, a
// session cannot mint sessions without the password).
func forSession(u User, meta events.Metadata) passwordCheck {
	c := passwordCheck{account: validate.CanonicalUsername(u.Username), userID: u.ID, address: meta.ClientIP}
	if meta.CredentialKind == credentialSession && meta.CredentialID != "" {
		c.known, c.knownScope = "session\x00"+meta.CredentialID, ScopeSession
	}
	return c
}

// checkPassword verifies the given password against hash under the
// throttling policy. Every attempt counts against its address. A wrong
// password is ErrInvalidCredentials and counts against the known device
// (or session) it came with, or else against the account from that address
// and the account from everywhere. Limits that cannot be counted refuse
// the attempt (UnavailableError): never a free pass.
func (h *Handlers) checkPassword(ctx context.Context, c passwordCheck, given, hash string) error {
	pair := c.account + "\x00" + c.address
	ok, wait, err := h.signIn.address.allow(ctx, c.address)
	if err != nil {
		return err
	}
	if !ok {
		// Say the longest wait: retrying when the address may go again
		// would only meet the account's (or the device's) block. Waits
		// that cannot be read leave the address's.
		if c.known != "" {
			_, knownWait, _ := h.signIn.known.check(ctx, c.known)
			return h.throttled(ScopeAddress, max(wait, knownWait), c)
		}
		_, pairWait, _ := h.signIn.accountAddress.check(ctx, pair)
		_, accountWait, _ := h.signIn.account.check(ctx, c.account)
		return h.throttled(ScopeAddress, max(wait, pairWait, accountWait), c)
	}
	// Checks that share a bucket run one at a time: a known device's wait
	// on its own bucket only, never on the guesses at the account.
	lock := c.account
	if c.known != "" {
		lock = c.known
	}
	unlock := h.signIn.locks.Lock(lock)
	defer unlock()
	// The tokens are taken up front (atomically, in the shared store) and
	// given back when the password was right: counted once whichever
	// replica checks.
	var taken []func()
	giveBack := func() {
		for _, give := range taken {
			give()
		}
	}
	take := func(l *limit, key, scope string) error {
		ok, wait, err := l.allow(ctx, key)
		if err != nil {
			giveBack()
			return err
		}
		if !ok {
			giveBack()
			return h.throttled(scope, wait, c)
		}
		taken = append(taken, func() { l.give(ctx, key) })
		return nil
	}
	if c.known != "" {
		if err := take(h.signIn.known, c.known, c.knownScope); err != nil {
			return err
		}
	} else {
		if err := take(h.signIn.accountAddress, pair, ScopeAccountAddress); err != nil {
			return err
		}
		if err := take(h.signIn.account, c.account, ScopeAccount); err != nil {
			return err
		}
	}
	ok, err = password.Verify(given, hash)
	if err != nil {
		giveBack() // not the caller's failure
		return err
	}
	if !ok {
		h.security.Warn("security event", append([]any{"event", "password_check_failed"}, c.logAttrs()...)...)
		return ErrInvalidCredentials
	}
	giveBack()
	return nil
}

func (h *Handlers) throttled(scope string, wait time.Duration, c passwordCheck) error {
	h.metrics.Throttled(scope)
	h.security.Warn("security event", append([]any{"event", "throttled", "scope", scope, "retry_after", wait.Round(time.Second).String()}, c.logAttrs()...)...)
	return &ThrottledError{RetryAfter: wait, Scope: scope}
}

// maxLogged bounds what a security event keeps of anything the client sent.
const maxLogged = 64

// logAttrs say whose account and from where: the account's id, never the
// name the client typed, and at most maxLogged bytes of the address.
func (c passwordCheck) logAttrs() []any {
	var attrs []any
	if c.userID != "" {
		attrs = append(attrs, "user_id", c.userID)
	}
	attrs = append(attrs, "address", clip(c.address, maxLogged))
	if c.knownScope != "" {
		attrs = append(attrs, "known", c.knownScope)
	}
	return attrs
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// accountNamed returns the account that carries name now, or a user that
// does not exist. Whether or not the name is an account's, it reads two
// streams afresh (the name's reservation and one user's: the holder's, or
// the decoy's), so an unknown name takes as long as a known one.
func (h *Handlers) accountNamed(ctx context.Context, name string) (User, error) {
	r, _, err := h.reservations.load(ctx, reservationStream(name), true)
	if err != nil {
		return User{}, err
	}
	id := decoyUserID
	if r.Held {
		id = r.Holder
	}
	u, _, err := h.users.load(ctx, events.UserStream(id), true)
	if err != nil {
		return User{}, err
	}
	if !r.Held || !u.Exists() || validate.CanonicalUsername(u.Username) != validate.CanonicalUsername(name) {
		return User{}, nil // a claim left behind by a crash is nobody's name
	}
	return u, nil
}

// handleSignIn checks the password and starts a session. Whether the name exists
// or the password is wrong, the answer (and its timing) is the same.
func (h *Handlers) handleSignIn(ctx context.Context, cmd SignIn, meta events.Metadata) (res SignedIn, err error) {
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
	user, err := h.accountNamed(ctx, cmd.Username)
	if err != nil {
		return SignedIn{}, err
	}
	check := passwordCheck{account: validate.CanonicalUsername(cmd.Username), address: meta.ClientIP}
	hash, bound := h.dummyHash, decoyUserID
	if user.Exists() {
		check.userID, hash, bound = user.ID, user.PasswordHash, user.ID
	}
	// Checked against the decoy too when there is no account: it never
	// holds, and the work is the same.
	device, known := h.signIn.devices.Verify(bound, cmd.Device)
	if known {
		check.known, check.knownScope = "device\x00"+bound+"\x00"+device, ScopeDevice
	}
	if err := h.checkPassword(ctx, check, cmd.Password, hash); err != nil {
		return SignedIn{}, err
	}
	if !user.Exists() {
		return SignedIn{}, ErrInvalidCredentials // the dummy hash matched: no such account
	}
	userID := user.ID
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
	// The device signed in: it is known from now on (a known one is renewed).
	deviceValue, err := h.signIn.devices.Issue(userID, device)
	if err != nil {
		return SignedIn{}, err
	}
	return SignedIn{UserID: userID, SessionID: minted.ID, Token: minted.Token, ExpiresAt: started.ExpiresAt,
		Device: deviceValue, DeviceExpiresAt: h.now().Truncate(time.Second).Add(h.signIn.devices.TTL()),
		Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}
