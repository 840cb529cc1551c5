// Package principals resolves a bearer credential (a session token or a
// personal access token) to who presents it, in memory, so that checking a
// credential never touches a database. The index is rebuilt from the event
// log at start and follows it live; this process's commands also tell it
// directly (commands.Observer), so a new token works, and a revoked one
// stops working, on the very next request. A replica whose index falls too
// far behind the log refuses every check (fail closed) until it catches up.
package principals

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/scopes"
	"github.com/accountd/accountd/internal/tokens"
	"github.com/accountd/accountd/projections"
)

// Credential kinds.
const (
	KindSession = "session"
	KindToken   = "token"
)

// Credential is what the caller presented.
type Credential struct {
	Kind      string
	ID        string
	Scopes    []string // nil for a session, which holds every scope
	ExpiresAt time.Time
	// AllowedIPs are a token's address limits (none: any address); a
	// token gives no other token more than these.
	AllowedIPs []netip.Prefix
	// Browser: a web console session (cookie only, never a bearer token).
	Browser bool
}

// Principal is who a valid credential belongs to, with what the transport
// needs of the account on every request.
type Principal struct {
	UserID     string
	Username   string
	Language   string // preferred language, "" if none
	Timezone   string // preferred time zone, "" if none
	Revision   uint64 // the account's stream revision this index has seen
	Admin      bool   // holds the admin role
	Credential Credential
}

// Holds says whether the credential may do what scope allows.
func (p Principal) Holds(scope string) bool {
	return p.Credential.Kind == KindSession || scopes.Holds(p.Credential.Scopes, scope)
}

// Why a credential is refused.
var (
	// ErrUnauthenticated: unknown, malformed, expired, disabled, revoked
	// or rotated away.
	ErrUnauthenticated = errors.New("credential not valid")
	// ErrAddressNotAllowed: a valid token used from outside its allowed
	// addresses.
	ErrAddressNotAllowed = errors.New("the token may not be used from this address")
	// ErrAccountDisabled: the credential is valid, but an admin disabled
	// its account.
	ErrAccountDisabled = errors.New("the account is disabled")
	// ErrStale: this replica's index is too far behind the log to be
	// trusted; it refuses every credential until it catches up.
	ErrStale = errors.New("the credential index is behind the event log")
	// ErrUnknown: a well-formed credential the index has never seen
	// (refused as ErrUnauthenticated). On a replica whose index is behind
	// the log it may have been issued elsewhere a moment ago: the caller
	// may wait for the index (WaitPosition) and ask again.
	ErrUnknown error = unknownError{}
)

type unknownError struct{}

func (unknownError) Error() string        { return "credential not known" }
func (unknownError) Is(target error) bool { return target == ErrUnauthenticated }

// ReuseError: a rotated-away token secret was presented (refused as
// ErrUnauthenticated); Digest identifies it for the reuse report.
type ReuseError struct{ Digest string }

func (e *ReuseError) Error() string        { return "a rotated-away token was presented" }
func (e *ReuseError) Is(target error) bool { return target == ErrUnauthenticated }

type account struct {
	username, language, timezone string
	revision                     uint64
	disabled, deleted, admin     bool
}

type session struct {
	userID    string
	digest    string
	expiresAt time.Time
	browser   bool
}

// tokenEntry is one token secret, current or rotated away, kept small:
// ids as bytes, scopes as a bit set, expiry in seconds.
type tokenEntry struct {
	user, token [16]byte
	scopes      uint64
	expires     int64 // unix seconds
	issued      int64 // of the current secret
	allowed     []netip.Prefix
	flags       uint8
}

const (
	tokenEnabled uint8 = 1 << iota
	tokenRevoked
	tokenRotatedAway
)

type credentialExpiry struct {
	user    string
	expires time.Time
}

type tokenRef struct {
	current [32]byte
	old     [][32]byte
}

// Index is safe for concurrent use.
type Index struct {
	now    func() time.Time
	scopes *scopes.Registry
	bits   map[string]uint64 // scope -> bit
	names  sync.Map          // uint64 bit set -> []string

	mu           sync.RWMutex
	accounts     map[string]account
	streams      map[string]uint64 // token stream -> revision applied
	live         map[string]session
	userSessions map[string]map[string]struct{} // user -> live session ids
	ending       map[string]Ending              // live sessions their account ended, until their own session.ended
	ended        map[string]time.Time           // ended sessions, kept until they would have expired
	secrets      map[[32]byte]*tokenEntry       // token digest -> entry
	byToken      map[[16]byte]tokenRef
	credExpiry   map[string]credentialExpiry // service credential id -> expiry, for reminders

	position atomic.Uint64 // $all position the index has applied from the log
	eventAt  atomic.Int64  // unix nanos of the event at position
	stale    atomic.Bool
	// freshUntil (unix nanos; 0: unbounded) is when the guard's last
	// verdict "fresh" lapses. The guard runs now and then; a process
	// paused or starved past this answers requests before the guard runs
	// again, with an index behind the log: refused as stale, not trusted.
	freshUntil atomic.Int64
	caughtUp   chan struct{}
	once       sync.Once

	progressMu sync.Mutex
	progressed chan struct{} // closed when position next advances; nil while nobody waits
}

// New returns an empty index that knows the given scopes (nil: the
// built-in ones).
func New(now func() time.Time, reg *scopes.Registry) *Index {
	if now == nil {
		now = time.Now
	}
	if reg == nil {
		reg, _ = scopes.New(nil)
	}
	x := &Index{now: now, scopes: reg, bits: map[string]uint64{},
		accounts: map[string]account{}, streams: map[string]uint64{}, live: map[string]session{},
		userSessions: map[string]map[string]struct{}{}, ending: map[string]Ending{}, ended: map[string]time.Time{},
		secrets: map[[32]byte]*tokenEntry{}, byToken: map[[16]byte]tokenRef{}, credExpiry: map[string]credentialExpiry{}, caughtUp: make(chan struct{})}
	for i, name := range reg.Names() {
		if i < 64 {
			x.bits[name] = 1 << i
		}
	}
	return x
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
			a.language, a.timezone = p.Get(events.FieldPreferredLanguage), p.Get(events.FieldPreferredTimezone)
		})
	case events.UserRenamedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) { a.username = p.NewUsername })
	case events.UserProfileUpdatedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) {
			if v, ok := p.Given(events.FieldPreferredLanguage); ok {
				a.language = v
			}
			if v, ok := p.Given(events.FieldPreferredTimezone); ok {
				a.timezone = v
			}
		})
	case events.UserRoleGrantedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) { a.admin = a.admin || p.Role == events.RoleAdmin })
	case events.UserRoleRevokedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) { a.admin = a.admin && p.Role != events.RoleAdmin })
	case events.UserDisabledV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) {
			a.disabled = true
			// Its sessions end for good: enabling the account again brings
			// none back, even if their own session.ended never came.
			x.endSessionsOf(p.UserID, "", events.SessionAccountDisabled, r.Metadata.Time)
		})
	case events.UserEnabledV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) { a.disabled = false })
	case events.UserDeletedV1:
		// Its sessions end with their own events (commands.EraseDeleted);
		// until then a deleted account's credentials are refused anyway.
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(a *account) { a.deleted, a.admin = true, false })
	case events.UserPasswordChangedV1:
		x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(*account) {
			// Every other session is refused from now on, even before (or
			// without) its own session.ended.
			x.endSessionsOf(p.UserID, p.KeptSessionID, events.SessionPasswordChanged, r.Metadata.Time)
		})
	case events.SessionStartedV1:
		if _, gone := x.ended[p.SessionID]; !gone {
			x.live[p.SessionID] = session{userID: p.UserID, digest: p.TokenDigest, expiresAt: p.ExpiresAt, browser: p.Channel == events.ChannelBrowser}
			if x.userSessions[p.UserID] == nil {
				x.userSessions[p.UserID] = map[string]struct{}{}
			}
			x.userSessions[p.UserID][p.SessionID] = struct{}{}
		}
	case events.SessionEndedV1:
		x.endSession(p.SessionID)
	default:
		switch events.Category(r.Stream) {
		case events.TokensCategory:
			if x.advance(r.Stream, r.Revision, direct) {
				x.applyToken(r.Payload)
			}
		case events.CredentialsCategory:
			if x.advance(r.Stream, r.Revision, direct) {
				x.applyCredential(r.Payload)
			}
		case events.UserCategory:
			// Another change of the account (its picture, admin-only
			// fields): the revision moves, so later direct events apply.
			x.updateAccount(events.StreamID(r.Stream), r.Revision, direct, func(*account) {})
		}
	}
}

// advance says whether an event of a stream with ordered state is the
// stream's next one (and records it): events arrive both directly and from
// the log; the log delivers them in order, and a direct one that skips a
// revision written elsewhere waits for the log, so no change is lost.
func (x *Index) advance(stream string, revision uint64, direct bool) bool {
	applied, ok := x.streams[stream]
	switch {
	case ok && revision <= applied:
		return false
	case direct && (ok && revision != applied+1 || !ok && revision != 0):
		return false
	}
	x.streams[stream] = revision
	return true
}

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

// endSessionsOf refuses every live session of the user but the one kept,
// because of something recorded on the account. They stay listed
// (SessionsOf) until their own session.ended: the command that recorded
// the cause appends those next, and finds them here; should it stop half
// way, Unended tells a repair job which are left.
func (x *Index) endSessionsOf(userID, keep, reason string, at time.Time) {
	if at.IsZero() {
		at = x.now()
	}
	for id := range x.userSessions[userID] {
		if _, already := x.ending[id]; id != keep && !already {
			x.ending[id] = Ending{UserID: userID, SessionID: id, Reason: reason, Since: at}
		}
	}
}

func (x *Index) endSession(id string) {
	delete(x.ending, id)
	expires := x.now().Add(48 * time.Hour)
	if s, ok := x.live[id]; ok {
		expires = s.expiresAt
		delete(x.userSessions[s.userID], id)
		if len(x.userSessions[s.userID]) == 0 {
			delete(x.userSessions, s.userID)
		}
	}
	delete(x.live, id)
	x.ended[id] = expires
}

func (x *Index) applyToken(payload events.Payload) {
	switch p := payload.(type) {
	case events.TokenCreatedV1:
		d, ok := digestBytes(p.TokenDigest)
		tid, uid := idBytes(p.TokenID), idBytes(p.UserID)
		if !ok {
			return
		}
		e := &tokenEntry{user: uid, token: tid, scopes: x.mask(p.Scopes), expires: p.ExpiresAt.Unix(), issued: p.IssuedAt.Unix(), allowed: prefixes(p.AllowedIPs)}
		if p.Enabled {
			e.flags |= tokenEnabled
		}
		x.secrets[d] = e
		x.byToken[tid] = tokenRef{current: d}
	case events.TokenUpdatedV1:
		if e := x.current(p.TokenID); e != nil {
			c := *e // entries are replaced, never changed: readers hold them without the lock
			if p.Enabled != nil {
				c.flags &^= tokenEnabled
				if *p.Enabled {
					c.flags |= tokenEnabled
				}
			}
			if p.AllowedIPs != nil {
				c.allowed = prefixes(*p.AllowedIPs)
			}
			x.secrets[x.byToken[c.token].current] = &c
		}
	case events.TokenRotatedV1:
		tid := idBytes(p.TokenID)
		ref, ok := x.byToken[tid]
		e := x.secrets[ref.current]
		d, dok := digestBytes(p.TokenDigest)
		if !ok || e == nil || !dok {
			return
		}
		old := *e
		old.flags |= tokenRotatedAway
		x.secrets[ref.current] = &old
		next := *e
		next.expires, next.issued = p.ExpiresAt.Unix(), p.IssuedAt.Unix()
		x.secrets[d] = &next
		x.byToken[tid] = tokenRef{current: d, old: append(ref.old, ref.current)}
	case events.TokenRevokedV1:
		if e := x.current(p.TokenID); e != nil {
			c := *e
			c.flags |= tokenRevoked
			x.secrets[x.byToken[c.token].current] = &c
		}
	case events.TokenDeletedV1:
		tid := idBytes(p.TokenID)
		ref := x.byToken[tid]
		delete(x.secrets, ref.current)
		for _, d := range ref.old {
			delete(x.secrets, d)
		}
		delete(x.byToken, tid)
	}
}

// applyCredential keeps service credentials' expiry, for reminders.
func (x *Index) applyCredential(payload events.Payload) {
	switch p := payload.(type) {
	case events.CredentialCreatedV1:
		if p.ExpiresAt != nil {
			x.credExpiry[p.CredentialID] = credentialExpiry{user: p.UserID, expires: *p.ExpiresAt}
		}
	case events.CredentialUpdatedV1:
		switch {
		case p.ClearExpiry:
			delete(x.credExpiry, p.CredentialID)
		case p.ExpiresAt != nil:
			x.credExpiry[p.CredentialID] = credentialExpiry{user: p.UserID, expires: *p.ExpiresAt}
		}
	case events.CredentialDeletedV1:
		delete(x.credExpiry, p.CredentialID)
	}
}

func (x *Index) current(tokenID string) *tokenEntry {
	ref, ok := x.byToken[idBytes(tokenID)]
	if !ok {
		return nil
	}
	return x.secrets[ref.current]
}

// mask is the bit set of the scopes the registry knows.
func (x *Index) mask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		m |= x.bits[n]
	}
	return m
}

// scopeNames turns a bit set back into names, shared per distinct set.
func (x *Index) scopeNames(m uint64) []string {
	if v, ok := x.names.Load(m); ok {
		return v.([]string)
	}
	var out []string
	for i, name := range x.scopes.Names() {
		if i < 64 && m&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	x.names.Store(m, out)
	return out
}

// Authenticate checks a bearer credential presented from clientIP.
func (x *Index) Authenticate(token, clientIP string) (Principal, error) {
	if x.Stale() {
		return Principal{}, ErrStale
	}
	if tokens.IsPAT(token) {
		return x.authenticateToken(token, clientIP)
	}
	id, secret, ok := tokens.ParseSession(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	x.mu.RLock()
	s, ok := x.live[id]
	_, ending := x.ending[id]
	_, ended := x.ended[id]
	a := x.accounts[s.userID]
	x.mu.RUnlock()
	if !ok && !ended {
		return Principal{}, ErrUnknown
	}
	if !ok || ending || !x.now().Before(s.expiresAt) || !tokens.Matches(secret, s.digest) || a.deleted {
		return Principal{}, ErrUnauthenticated
	}
	if a.disabled {
		return Principal{}, ErrAccountDisabled
	}
	return Principal{
		UserID: s.userID, Username: a.username, Language: a.language, Timezone: a.timezone, Revision: a.revision, Admin: a.admin,
		Credential: Credential{Kind: KindSession, ID: id, ExpiresAt: s.expiresAt, Browser: s.browser},
	}, nil
}

func (x *Index) authenticateToken(token, clientIP string) (Principal, error) {
	if !tokens.ValidPAT(token) {
		return Principal{}, ErrUnauthenticated // a typo: no lookup
	}
	d, _ := digestBytes(tokens.PATDigest(token))
	x.mu.RLock()
	e := x.secrets[d]
	var a account
	if e != nil {
		a = x.accounts[uuidString(e.user)]
	}
	x.mu.RUnlock()
	switch {
	case e == nil:
		return Principal{}, ErrUnknown
	case e.flags&tokenRotatedAway != 0:
		return Principal{}, &ReuseError{Digest: tokens.PATDigest(token)}
	case e.flags&tokenRevoked != 0, e.flags&tokenEnabled == 0, x.now().Unix() >= e.expires, a.deleted:
		return Principal{}, ErrUnauthenticated
	case a.disabled:
		return Principal{}, ErrAccountDisabled
	}
	if len(e.allowed) > 0 {
		if ip, err := netip.ParseAddr(clientIP); err != nil || !AddressAllowed(e.allowed, ip) {
			return Principal{}, ErrAddressNotAllowed
		}
	}
	userID := uuidString(e.user)
	return Principal{
		UserID: userID, Username: a.username, Language: a.language, Timezone: a.timezone, Revision: a.revision, Admin: a.admin,
		Credential: Credential{Kind: KindToken, ID: uuidString(e.token), Scopes: x.scopeNames(e.scopes), ExpiresAt: time.Unix(e.expires, 0).UTC(),
			AllowedIPs: e.allowed},
	}, nil
}

// AddressAllowed says whether a token limited to allowed (none: any
// address) may be used from ip.
func AddressAllowed(allowed []netip.Prefix, ip netip.Addr) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, p := range allowed {
		if p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// Introspection is what RFC 7662 token introspection tells about a token.
type Introspection struct {
	UserID, Username, TokenID string
	Scopes                    []string
	ExpiresAt, IssuedAt       time.Time
	// AllowedIPs are the addresses the token may be used from (none:
	// any); the asking service checks its client's address against them.
	AllowedIPs []netip.Prefix
}

// Introspect reports a personal access token that is active now (current,
// enabled, neither expired nor revoked), with its address limits: the
// index does not know from where the asking service's client called.
func (x *Index) Introspect(token string) (Introspection, bool) {
	if x.Stale() || !tokens.ValidPAT(token) {
		return Introspection{}, false
	}
	d, _ := digestBytes(tokens.PATDigest(token))
	x.mu.RLock()
	e := x.secrets[d]
	var a account
	if e != nil {
		a = x.accounts[uuidString(e.user)]
	}
	x.mu.RUnlock()
	if e == nil || e.flags&(tokenRotatedAway|tokenRevoked) != 0 || e.flags&tokenEnabled == 0 || x.now().Unix() >= e.expires || a.disabled || a.deleted {
		return Introspection{}, false
	}
	return Introspection{UserID: uuidString(e.user), Username: a.username, TokenID: uuidString(e.token), Scopes: x.scopeNames(e.scopes),
		ExpiresAt: time.Unix(e.expires, 0).UTC(), IssuedAt: time.Unix(e.issued, 0).UTC(), AllowedIPs: e.allowed}, true
}

// TokenByDigest finds the user and token a secret (current or rotated
// away) belongs to (commands.Directory).
func (x *Index) TokenByDigest(digest string) (string, string, bool) {
	d, ok := digestBytes(digest)
	if !ok {
		return "", "", false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	e := x.secrets[d]
	if e == nil {
		return "", "", false
	}
	return uuidString(e.user), uuidString(e.token), true
}

// SessionsOf lists a user's sessions that have no session.ended yet
// (commands.Directory), refused ones included: ending them is what is left
// to do.
func (x *Index) SessionsOf(userID string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]string, 0, len(x.userSessions[userID]))
	for id := range x.userSessions[userID] {
		out = append(out, id)
	}
	return out
}

// Admins lists the accounts holding the admin role (commands.Directory).
func (x *Index) Admins() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	for id, a := range x.accounts {
		if a.admin && !a.deleted {
			out = append(out, id)
		}
	}
	return out
}

// Account is what the index knows of an account's standing.
type Account struct {
	Known, Disabled, Deleted, Admin bool
	Username                        string
}

// AccountOf reports an account's standing.
func (x *Index) AccountOf(userID string) Account {
	x.mu.RLock()
	defer x.mu.RUnlock()
	a, ok := x.accounts[userID]
	return Account{Known: ok, Disabled: a.disabled, Deleted: a.deleted, Admin: a.admin, Username: a.username}
}

// Standing answers queries.Standings: the account's standing as the index
// knows it, "" for an account it does not know (yet).
func (x *Index) Standing(userID string) projections.Standing {
	switch a := x.AccountOf(userID); {
	case !a.Known:
		return ""
	case a.Deleted:
		return projections.StandingDeleted
	case a.Disabled:
		return projections.StandingDisabled
	}
	return projections.StandingActive
}

// Deleted lists the deleted accounts (whose erasure is to be finished).
func (x *Index) Deleted() map[string]string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[string]string{}
	for id, a := range x.accounts {
		if a.deleted {
			out[id] = a.username
		}
	}
	return out
}

// Expiry is a token or service credential that expires.
type Expiry struct {
	Kind      string // "token" or "credential"
	ID        string
	UserID    string
	ExpiresAt time.Time
}

// ExpiringBetween lists the live, enabled tokens and the service
// credentials that expire after now and before until.
func (x *Index) ExpiringBetween(now, until time.Time) []Expiry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []Expiry
	for _, ref := range x.byToken {
		e := x.secrets[ref.current]
		if e == nil || e.flags&(tokenRevoked|tokenRotatedAway) != 0 || e.flags&tokenEnabled == 0 {
			continue
		}
		if at := time.Unix(e.expires, 0); at.After(now) && at.Before(until) && !x.accounts[uuidString(e.user)].deleted {
			out = append(out, Expiry{Kind: KindToken, ID: uuidString(e.token), UserID: uuidString(e.user), ExpiresAt: at.UTC()})
		}
	}
	for id, c := range x.credExpiry {
		if c.expires.After(now) && c.expires.Before(until) && !x.accounts[c.user].deleted {
			out = append(out, Expiry{Kind: "credential", ID: id, UserID: c.user, ExpiresAt: c.expires.UTC()})
		}
	}
	return out
}

// Ending is a session its account ended (a password change, the account
// disabled) whose own session.ended the index has not seen.
type Ending struct {
	UserID, SessionID string
	Reason            string    // the session.ended reason it is due
	Since             time.Time // when the account ended it
}

// Unended lists the sessions their account ended before the given time
// that still have no session.ended of their own: a process stopped between
// recording the cause and ending them.
func (x *Index) Unended(before time.Time) []Ending {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []Ending
	for _, e := range x.ending {
		if e.Since.Before(before) {
			out = append(out, e)
		}
	}
	return out
}

// Sessions counts live sessions (refused ones are not).
func (x *Index) Sessions() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.live) - len(x.ending)
}

// Tokens counts token secrets held (current and rotated away).
func (x *Index) Tokens() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.secrets)
}

// SetStale makes the index refuse (or accept again) every credential; the
// service's guard sets it from the index's lag behind the log.
func (x *Index) SetStale(stale bool) { x.stale.Store(stale) }

// SetFreshUntil bounds the guard's last verdict: past t the index refuses
// every credential as stale until the guard says otherwise (zero: no
// bound).
func (x *Index) SetFreshUntil(t time.Time) {
	if t.IsZero() {
		x.freshUntil.Store(0)
		return
	}
	x.freshUntil.Store(t.UnixNano())
}

// Stale says whether the index refuses credentials: the guard said so, or
// its verdict has lapsed.
func (x *Index) Stale() bool {
	if x.stale.Load() {
		return true
	}
	until := x.freshUntil.Load()
	return until != 0 && x.now().UnixNano() > until
}

// Prune drops expired sessions and ended ones past their expiry; run it
// now and then.
func (x *Index) Prune() {
	now := x.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, s := range x.live {
		if !now.Before(s.expiresAt) {
			x.endSession(id)
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
	return eventlog.Follow(ctx, client, x.position.Load(),
		[]string{events.UserCategory + ".", events.SessionCategory + ".", "token.", "credential."}, (*follower)(x))
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
	case events.TokensCategory, events.CredentialsCategory:
		applied, ok := x.streams[stream]
		return ok && revision <= applied
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
		f.progressMu.Lock()
		if f.progressed != nil {
			close(f.progressed)
			f.progressed = nil
		}
		f.progressMu.Unlock()
	}
}

// WaitPosition blocks until the index has applied the log up to position
// or ctx ends (its error); woken by the index's progress, not polling.
func (x *Index) WaitPosition(ctx context.Context, position uint64) error {
	for {
		x.progressMu.Lock()
		if x.position.Load() >= position {
			x.progressMu.Unlock()
			return nil
		}
		if x.progressed == nil {
			x.progressed = make(chan struct{})
		}
		progressed := x.progressed
		x.progressMu.Unlock()
		select {
		case <-progressed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *follower) CaughtUp() { f.once.Do(func() { close(f.caughtUp) }) }
