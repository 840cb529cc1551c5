package commands_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/tokens"
)

// reachAccount is one user's tokens, given as past events, around a
// narrow token that acts on the others.
type reachAccount struct {
	user                                    string
	narrow, broad, within, anywhere, longer string
	given                                   int // events in the token stream
}

const day = 24 * time.Hour

func newReachHarness(t *testing.T) *harness {
	return newHarnessOn(t, eventlog.NewMemory(), commands.Config{MaxLiveTokens: 10})
}

// givenReachAccount: narrow holds tokens:write and profile:read, from
// 10.0.0.0/8, for 10 more days of a 30-day life; broad holds more scopes;
// within lies inside narrow's reach; anywhere may be used from any
// address; longer outlives narrow.
func givenReachAccount(hs *harness) reachAccount {
	hs.t.Helper()
	a := reachAccount{user: uuid.NewString(), narrow: uuid.NewString(), broad: uuid.NewString(), within: uuid.NewString(),
		anywhere: uuid.NewString(), longer: uuid.NewString()}
	created := func(id string, scopes, ips []string, expires time.Time) events.Payload {
		pat, err := tokens.NewPAT()
		if err != nil {
			hs.t.Fatal(err)
		}
		return events.TokenCreatedV1{TokenID: id, UserID: a.user, Title: "t", Scopes: scopes, ExpiresAt: expires, Enabled: true, AllowedIPs: ips,
			TokenDigest: pat.Digest, TokenPrefix: pat.Prefix, IssuedAt: hs.now.Add(-20 * day)}
	}
	ps := []events.Payload{
		created(a.narrow, []string{"profile:read", "tokens:write"}, []string{"10.0.0.0/8"}, hs.now.Add(10*day)),
		created(a.broad, []string{"credentials:write", "profile:write", "tokens:write"}, nil, hs.now.Add(300*day)),
		created(a.within, []string{"profile:read", "tokens:read"}, []string{"10.1.0.0/16"}, hs.now.Add(5*day)),
		created(a.anywhere, []string{"profile:read"}, nil, hs.now.Add(5*day)),
		created(a.longer, []string{"profile:read"}, []string{"10.1.0.0/16"}, hs.now.Add(20*day)),
	}
	hs.given(events.TokensStream(a.user), hs.now.Add(-20*day), ps...)
	a.given = len(ps)
	return a
}

// actor is the narrow token as the transport describes it.
func (a reachAccount) actor(hs *harness) commands.Actor {
	return commands.Actor{TokenID: a.narrow, Scopes: []string{"profile:read", "tokens:write"}, AllowedIPs: []string{"10.0.0.0/8"}, ExpiresAt: hs.now.Add(10 * day)}
}

func at(hs *harness, d time.Duration) *time.Time {
	t := hs.now.Add(d)
	return &t
}

// refusal checks a refused command's error: the scopes missing, or the
// limits (fields) beyond the actor's own.
func refusal(t *testing.T, err error, missing, limits []string) {
	t.Helper()
	var se *commands.ScopeError
	var le *commands.LimitsError
	switch {
	case missing != nil:
		if !errors.As(err, &se) || !slices.Equal(se.Missing, missing) {
			t.Fatalf("err %v, want scopes %v missing", err, missing)
		}
	case limits != nil:
		var fields []string
		if errors.As(err, &le) {
			for _, v := range le.Violations {
				fields = append(fields, v.Field+":"+v.Code)
			}
		}
		if !slices.Equal(fields, limits) {
			t.Fatalf("err %v (%v), want limits %v", err, fields, limits)
		}
	case err != nil:
		t.Fatalf("refused: %v", err)
	}
}

var (
	beyondAddresses = []string{"allowed_ips:allowed_ips.beyond_token"}
	beyondExpiry    = []string{"expires_at:expires_at.beyond_token"}
)

// A token acts only on tokens within its scopes, addresses and life, and
// renews a secret without extending a life; a session does all of it.
func TestTokenReachRotate(t *testing.T) {
	tests := []struct {
		name    string
		actor   func(*harness, reachAccount) commands.Actor
		token   func(reachAccount) string
		expires func(*harness) *time.Time
		missing []string
		limits  []string
		// wantExpiry is the rotated token's expiry, from now.
		wantExpiry time.Duration
	}{
		{name: "a session rotates a broad token, for the lifetime it had", actor: bySession, token: broad, wantExpiry: 320 * day},
		{name: "a narrow token rotates a broad one", actor: byNarrow, token: broad, missing: []string{"credentials:write", "profile:write"}},
		{name: "a narrow token rotates one usable from anywhere", actor: byNarrow, token: anywhere, limits: beyondAddresses},
		{name: "a narrow token rotates one that outlives it", actor: byNarrow, token: longer, limits: beyondExpiry},
		{name: "a narrow token rotates one within its reach: the expiry stays", actor: byNarrow, token: within, wantExpiry: 5 * day},
		{name: "within, to an expiry no later than its own", actor: byNarrow, token: within, expires: after(8 * day), wantExpiry: 8 * day},
		{name: "within, to an expiry past its own", actor: byNarrow, token: within, expires: after(12 * day), limits: beyondExpiry},
		{name: "itself: the remaining lifetime, not the whole again", actor: byNarrow, token: narrow, wantExpiry: 10 * day},
		{name: "itself, later", actor: byNarrow, token: narrow, expires: after(60 * day), limits: beyondExpiry},
		{name: "itself, earlier", actor: byNarrow, token: narrow, expires: after(3 * day), wantExpiry: 3 * day},
		{name: "itself, later, by a session", actor: bySession, token: narrow, expires: after(60 * day), wantExpiry: 60 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newReachHarness(t)
			a := givenReachAccount(hs)
			cmd := commands.RotateToken{UserID: a.user, TokenID: tt.token(a), Actor: tt.actor(hs, a)}
			if tt.expires != nil {
				cmd.ExpiresAt = tt.expires(hs)
			}
			res, err := hs.h.RotateToken(hs.ctx, cmd, meta())
			refusal(t, err, tt.missing, tt.limits)
			after := hs.then(events.TokensStream(a.user), commands.Version(a.given-1))
			if tt.missing != nil || tt.limits != nil {
				if len(after) != 0 {
					t.Fatalf("a refused rotation recorded %v", types(after))
				}
				return
			}
			if got := types(after); !slices.Equal(got, []string{events.TokenRotated}) {
				t.Fatalf("events %v", got)
			}
			if p := after[0].Payload.(events.TokenRotatedV1); !p.ExpiresAt.Equal(hs.now.Add(tt.wantExpiry)) || !res.Token.ExpiresAt.Equal(p.ExpiresAt) {
				t.Fatalf("expires %v, want %v", p.ExpiresAt, hs.now.Add(tt.wantExpiry))
			}
		})
	}
}

func TestTokenReachUpdate(t *testing.T) {
	ips := func(s ...string) *[]string { return &s }
	off := false
	tests := []struct {
		name    string
		actor   func(*harness, reachAccount) commands.Actor
		token   func(reachAccount) string
		change  commands.TokenChange
		missing []string
		limits  []string
	}{
		{name: "a narrow token disables a broad one", actor: byNarrow, token: broad, change: commands.TokenChange{Enabled: &off},
			missing: []string{"credentials:write", "profile:write"}},
		{name: "a narrow token renames one that outlives it", actor: byNarrow, token: longer, change: commands.TokenChange{Title: ptr("x")}, limits: beyondExpiry},
		{name: "a narrow token disables one usable from anywhere", actor: byNarrow, token: anywhere, change: commands.TokenChange{Enabled: &off}, limits: beyondAddresses},
		{name: "a token lifts its own address limits", actor: byNarrow, token: narrow, change: commands.TokenChange{AllowedIPs: ips()}, limits: beyondAddresses},
		{name: "a token moves its own limits elsewhere", actor: byNarrow, token: narrow, change: commands.TokenChange{AllowedIPs: ips("11.0.0.0/8")}, limits: beyondAddresses},
		{name: "a token widens its own limits", actor: byNarrow, token: narrow, change: commands.TokenChange{AllowedIPs: ips("10.0.0.0/7")}, limits: beyondAddresses},
		{name: "a token narrows its own limits", actor: byNarrow, token: narrow, change: commands.TokenChange{AllowedIPs: ips("10.2.0.0/16", "10.3.0.1")}},
		{name: "a token gives another token addresses within its own", actor: byNarrow, token: within, change: commands.TokenChange{AllowedIPs: ips("10.9.9.9")}},
		{name: "a token gives another token addresses outside its own", actor: byNarrow, token: within, change: commands.TokenChange{AllowedIPs: ips("192.0.2.0/24")}, limits: beyondAddresses},
		{name: "a token disables itself", actor: byNarrow, token: narrow, change: commands.TokenChange{Enabled: &off}},
		{name: "a session lifts a token's limits", actor: bySession, token: narrow, change: commands.TokenChange{AllowedIPs: ips()}},
		{name: "a session disables a broad token", actor: bySession, token: broad, change: commands.TokenChange{Enabled: &off}},
		{name: "nobody said who acts", actor: func(*harness, reachAccount) commands.Actor { return commands.Actor{} }, token: within,
			change: commands.TokenChange{Enabled: &off}, missing: []string{"profile:read", "tokens:read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newReachHarness(t)
			a := givenReachAccount(hs)
			_, err := hs.h.UpdateToken(hs.ctx, commands.UpdateToken{UserID: a.user, TokenID: tt.token(a), Actor: tt.actor(hs, a), Change: tt.change}, meta())
			refusal(t, err, tt.missing, tt.limits)
			after := hs.then(events.TokensStream(a.user), commands.Version(a.given-1))
			want := []string{events.TokenUpdated}
			if tt.missing != nil || tt.limits != nil {
				want = nil
			}
			if got := types(after); !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
}

func TestTokenReachCreate(t *testing.T) {
	tests := []struct {
		name    string
		actor   func(*harness, reachAccount) commands.Actor
		spec    func(*harness) commands.TokenSpec
		missing []string
		limits  []string
	}{
		{name: "within its scopes, addresses and life", actor: byNarrow, spec: child([]string{"10.3.0.0/16"}, 5*day, "profile:read")},
		{name: "up to its own expiry", actor: byNarrow, spec: child([]string{"10.3.0.0/16"}, 10*day, "profile:read")},
		{name: "a scope it lacks", actor: byNarrow, spec: child([]string{"10.3.0.0/16"}, 5*day, "profile:write"), missing: []string{"profile:write"}},
		{name: "usable from anywhere", actor: byNarrow, spec: child(nil, 5*day, "profile:read"), limits: beyondAddresses},
		{name: "outside its addresses", actor: byNarrow, spec: child([]string{"10.3.0.0/16", "192.0.2.1"}, 5*day, "profile:read"), limits: beyondAddresses},
		{name: "outliving it", actor: byNarrow, spec: child([]string{"10.3.0.0/16"}, 20*day, "profile:read"), limits: beyondExpiry},
		{name: "beyond both", actor: byNarrow, spec: child(nil, 20*day, "profile:read"), limits: append(slices.Clone(beyondAddresses), beyondExpiry...)},
		{name: "by a token without address limits, anything", actor: byBroad, spec: child([]string{"192.0.2.0/24"}, 200*day, "profile:write")},
		{name: "by a session, anything", actor: bySession, spec: child(nil, 300*day, "credentials:write")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newReachHarness(t)
			a := givenReachAccount(hs)
			_, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{UserID: a.user, Actor: tt.actor(hs, a), Spec: tt.spec(hs)}, meta())
			refusal(t, err, tt.missing, tt.limits)
			after := hs.then(events.TokensStream(a.user), commands.Version(a.given-1))
			want := []string{events.TokenCreated}
			if tt.missing != nil || tt.limits != nil {
				want = nil
			}
			if got := types(after); !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
		})
	}
}

func TestTokenReachDelete(t *testing.T) {
	hs := newReachHarness(t)
	a := givenReachAccount(hs)
	stream := events.TokensStream(a.user)
	del := func(actor commands.Actor, id string) error {
		_, err := hs.h.DeleteToken(hs.ctx, commands.DeleteToken{UserID: a.user, TokenID: id, Actor: actor}, meta())
		return err
	}
	refusal(t, del(a.actor(hs), a.broad), []string{"credentials:write", "profile:write"}, nil)
	refusal(t, del(a.actor(hs), a.anywhere), nil, beyondAddresses)
	refusal(t, del(a.actor(hs), a.longer), nil, beyondExpiry)
	// All at once: none, naming every scope it lacks for the rest.
	_, err := hs.h.DeleteAllTokens(hs.ctx, commands.DeleteAllTokens{UserID: a.user, Actor: a.actor(hs)}, meta())
	refusal(t, err, []string{"credentials:write", "profile:write"}, nil)
	if got := hs.then(stream, commands.Version(a.given-1)); len(got) != 0 {
		t.Fatalf("refused deletions recorded %v", types(got))
	}
	// A session deletes the broad one; what is left beyond the narrow
	// token's reach are limits.
	refusal(t, del(commands.Actor{Session: true}, a.broad), nil, nil)
	_, err = hs.h.DeleteAllTokens(hs.ctx, commands.DeleteAllTokens{UserID: a.user, Actor: a.actor(hs)}, meta())
	refusal(t, err, nil, append(slices.Clone(beyondAddresses), beyondExpiry...))
	refusal(t, del(a.actor(hs), a.within), nil, nil)
	refusal(t, del(commands.Actor{Session: true}, a.anywhere), nil, nil)
	refusal(t, del(commands.Actor{Session: true}, a.longer), nil, nil)
	// Only tokens within its reach are left: it deletes them all, itself too.
	if _, err := hs.h.DeleteAllTokens(hs.ctx, commands.DeleteAllTokens{UserID: a.user, Actor: a.actor(hs)}, meta()); err != nil {
		t.Fatal(err)
	}
	want := []string{events.TokenDeleted, events.TokenDeleted, events.TokenDeleted, events.TokenDeleted, events.TokenDeleted}
	if got := types(hs.then(stream, commands.Version(a.given-1))); !slices.Equal(got, want) {
		t.Fatalf("events %v", got)
	}
}

// The acting token's own settings are read from the stream the decision
// is made on, not taken from the (perhaps stale) credential check.
func TestTokenReachReadsTheActorFromTheStream(t *testing.T) {
	hs := newReachHarness(t)
	a := givenReachAccount(hs)
	stream := events.TokensStream(a.user)
	narrowed := []string{"10.1.0.0/16"}
	hs.given(stream, hs.now, events.TokenUpdatedV1{TokenID: a.narrow, UserID: a.user, AllowedIPs: &narrowed})
	stale := a.actor(hs) // still 10.0.0.0/8
	ips := []string{"10.2.0.0/16"}
	_, err := hs.h.UpdateToken(hs.ctx, commands.UpdateToken{UserID: a.user, TokenID: a.narrow, Actor: stale, Change: commands.TokenChange{AllowedIPs: &ips}}, meta())
	refusal(t, err, nil, beyondAddresses)
	// Revoked meanwhile, it holds nothing.
	hs.given(stream, hs.now, events.TokenRevokedV1{TokenID: a.narrow, UserID: a.user, Reason: events.RevokedReported})
	_, err = hs.h.DeleteToken(hs.ctx, commands.DeleteToken{UserID: a.user, TokenID: a.within, Actor: stale}, meta())
	refusal(t, err, []string{"profile:read", "tokens:read"}, nil)
	if got := hs.then(stream, commands.Version(a.given+1)); len(got) != 0 {
		t.Fatalf("refused commands recorded %v", types(got))
	}
}

// A token rotating an expired token without an expiry would keep one
// that is over: it has to ask for one.
func TestTokenRotatesAnExpiredTokenOnlyWithAnExpiry(t *testing.T) {
	hs := newReachHarness(t)
	a := givenReachAccount(hs)
	hs.now = hs.now.Add(6 * day) // within has expired
	_, err := hs.h.RotateToken(hs.ctx, commands.RotateToken{UserID: a.user, TokenID: a.within, Actor: a.actor(hs)}, meta())
	if got := violationCodes(err); !slices.Equal(got, []string{"request.required"}) {
		t.Fatalf("err %v", err)
	}
	res, err := hs.h.RotateToken(hs.ctx, commands.RotateToken{UserID: a.user, TokenID: a.within, Actor: a.actor(hs), ExpiresAt: at(hs, day)}, meta())
	if err != nil || !res.Token.ExpiresAt.Equal(hs.now.Add(day)) {
		t.Fatalf("%v %v", res.Token.ExpiresAt, err)
	}
}

func bySession(*harness, reachAccount) commands.Actor     { return commands.Actor{Session: true} }
func byNarrow(hs *harness, a reachAccount) commands.Actor { return a.actor(hs) }
func byBroad(hs *harness, a reachAccount) commands.Actor {
	return commands.Actor{TokenID: a.broad, Scopes: []string{"credentials:write", "profile:write", "tokens:write"}, ExpiresAt: hs.now.Add(300 * day)}
}
func broad(a reachAccount) string    { return a.broad }
func narrow(a reachAccount) string   { return a.narrow }
func within(a reachAccount) string   { return a.within }
func anywhere(a reachAccount) string { return a.anywhere }
func longer(a reachAccount) string   { return a.longer }
func after(d time.Duration) func(*harness) *time.Time {
	return func(hs *harness) *time.Time { return at(hs, d) }
}
func child(ips []string, lifetime time.Duration, scopes ...string) func(*harness) commands.TokenSpec {
	return func(hs *harness) commands.TokenSpec {
		return commands.TokenSpec{Title: "child", Scopes: scopes, AllowedIPs: ips, ExpiresAt: hs.now.Add(lifetime), Enabled: true}
	}
}

type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *outcomes) Command(name, outcome string, took time.Duration) {
	if took <= 0 {
		panic("a command measured as taking no time")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, name+":"+outcome)
}
func (o *outcomes) Conflict(string)  {}
func (o *outcomes) Throttled(string) {}

// A token refused for its reach is a denial in the metrics, not an error.
func TestTokenReachRefusalsCountAsDenied(t *testing.T) {
	m := &outcomes{}
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{MaxLiveTokens: 10, Metrics: m})
	a := givenReachAccount(hs)
	if _, err := hs.h.DeleteToken(hs.ctx, commands.DeleteToken{UserID: a.user, TokenID: a.broad, Actor: a.actor(hs)}, meta()); err == nil {
		t.Fatal("deleted")
	}
	if _, err := hs.h.DeleteToken(hs.ctx, commands.DeleteToken{UserID: a.user, TokenID: a.longer, Actor: a.actor(hs)}, meta()); err == nil {
		t.Fatal("deleted")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if want := []string{"delete_token:denied", "delete_token:denied"}; !slices.Equal(m.got, want) {
		t.Fatalf("outcomes %v, want %v", m.got, want)
	}
}
