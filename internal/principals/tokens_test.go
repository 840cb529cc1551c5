package principals_test

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/tokens"
)

type tokenFixture struct {
	index  *principals.Index
	now    time.Time
	user   string
	stream string
	rev    uint64
}

func newTokenFixture(t *testing.T) *tokenFixture {
	f := &tokenFixture{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), user: uuid.NewString()}
	f.index = principals.New(func() time.Time { return f.now }, nil)
	f.stream = events.TokensStream(f.user)
	f.index.Observe([]events.Recorded{rec(events.UserStream(f.user), 0, events.UserRegisteredV1{UserID: f.user, Username: "ada"})})
	return f
}

func (f *tokenFixture) tell(ps ...events.Payload) {
	for _, p := range ps {
		f.index.Observe([]events.Recorded{rec(f.stream, f.rev, p)})
		f.rev++
	}
}

func (f *tokenFixture) create(t *testing.T, allowed ...string) (string, tokens.PAT) {
	pat, err := tokens.NewPAT()
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	f.tell(events.TokenCreatedV1{TokenID: id, UserID: f.user, Title: "ci", Scopes: []string{"profile:write", "tokens:read"},
		ExpiresAt: f.now.Add(time.Hour), Enabled: true, AllowedIPs: allowed, TokenDigest: pat.Digest, TokenPrefix: pat.Prefix, IssuedAt: f.now})
	return id, pat
}

// Every state a token can be in, checked on the very next call.
func TestTokenStates(t *testing.T) {
	f := newTokenFixture(t)
	id, pat := f.create(t)
	p, err := f.index.Authenticate(pat.Token, "192.0.2.1")
	if err != nil || p.UserID != f.user || p.Username != "ada" || p.Credential.Kind != principals.KindToken || p.Credential.ID != id {
		t.Fatalf("%v %+v", err, p)
	}
	if !p.Holds("profile:read") || !p.Holds("profile:write") || !p.Holds("tokens:read") || p.Holds("tokens:write") || p.Holds("audit:read") {
		t.Fatalf("scopes %v", p.Credential.Scopes)
	}
	typo := []byte(pat.Token)
	typo[10] ^= 1
	if _, err := f.index.Authenticate(string(typo), ""); !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("typo: %v", err)
	}

	off, on := false, true
	f.tell(events.TokenUpdatedV1{TokenID: id, UserID: f.user, Enabled: &off})
	if _, err := f.index.Authenticate(pat.Token, ""); !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("disabled: %v", err)
	}
	f.tell(events.TokenUpdatedV1{TokenID: id, UserID: f.user, Enabled: &on, AllowedIPs: &[]string{"198.51.100.0/24"}})
	if _, err := f.index.Authenticate(pat.Token, "192.0.2.1"); !errors.Is(err, principals.ErrAddressNotAllowed) {
		t.Fatalf("outside allowed addresses: %v", err)
	}
	if p, err := f.index.Authenticate(pat.Token, "198.51.100.7"); err != nil || fmt.Sprint(p.Credential.AllowedIPs) != "[198.51.100.0/24]" {
		t.Fatalf("inside allowed addresses: %v %v", err, p.Credential.AllowedIPs)
	}
	// Introspection tells the limits; the asking service knows the address.
	if info, ok := f.index.Introspect(pat.Token); !ok || fmt.Sprint(info.AllowedIPs) != "[198.51.100.0/24]" {
		t.Fatalf("introspect %+v %v", info, ok)
	}
	f.tell(events.TokenUpdatedV1{TokenID: id, UserID: f.user, AllowedIPs: &[]string{}})

	next, _ := tokens.NewPAT()
	f.tell(events.TokenRotatedV1{TokenID: id, UserID: f.user, OldDigest: pat.Digest, TokenDigest: next.Digest, TokenPrefix: next.Prefix, ExpiresAt: f.now.Add(2 * time.Hour), IssuedAt: f.now})
	var reuse *principals.ReuseError
	if _, err := f.index.Authenticate(pat.Token, ""); !errors.As(err, &reuse) || reuse.Digest != pat.Digest || !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("rotated away: %v", err)
	}
	if user, token, ok := f.index.TokenByDigest(pat.Digest); !ok || user != f.user || token != id {
		t.Fatalf("directory: %s %s %v", user, token, ok)
	}
	if p, err := f.index.Authenticate(next.Token, ""); err != nil || !p.Credential.ExpiresAt.Equal(f.now.Add(2*time.Hour)) {
		t.Fatalf("rotated into: %v %+v", err, p)
	}
	if info, ok := f.index.Introspect(next.Token); !ok || info.TokenID != id || info.Username != "ada" || len(info.Scopes) != 2 || len(info.AllowedIPs) != 0 {
		t.Fatalf("introspect %+v %v", info, ok)
	}
	f.now = f.now.Add(3 * time.Hour)
	if _, err := f.index.Authenticate(next.Token, ""); !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("expired: %v", err)
	}
	if _, ok := f.index.Introspect(next.Token); ok {
		t.Fatal("an expired token is active")
	}
	f.now = f.now.Add(-3 * time.Hour)
	f.tell(events.TokenRevokedV1{TokenID: id, UserID: f.user, Reason: events.RevokedReported})
	if _, err := f.index.Authenticate(next.Token, ""); !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("revoked: %v", err)
	}
	f.tell(events.TokenDeletedV1{TokenID: id, UserID: f.user})
	if _, _, ok := f.index.TokenByDigest(pat.Digest); ok || f.index.Tokens() != 0 {
		t.Fatal("a deleted token's secrets are still held")
	}
	// Fail closed.
	other, pat2 := f.create(t)
	f.index.SetStale(true)
	if _, err := f.index.Authenticate(pat2.Token, ""); !errors.Is(err, principals.ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	f.index.SetStale(false)
	if p, err := f.index.Authenticate(pat2.Token, ""); err != nil || p.Credential.ID != other {
		t.Fatalf("fresh again: %v", err)
	}
	// The guard's verdict "fresh" lapses when the guard does not renew it
	// (the process was paused past it): stale then, until renewed.
	f.index.SetFreshUntil(f.now.Add(time.Second))
	if _, err := f.index.Authenticate(pat2.Token, ""); err != nil {
		t.Fatalf("within the verdict: %v", err)
	}
	f.now = f.now.Add(2 * time.Second)
	if _, err := f.index.Authenticate(pat2.Token, ""); !errors.Is(err, principals.ErrStale) || !f.index.Stale() {
		t.Fatalf("past the verdict: %v", err)
	}
	if _, ok := f.index.Introspect(pat2.Token); ok {
		t.Fatal("introspection past the verdict")
	}
	f.index.SetFreshUntil(f.now.Add(time.Second))
	if _, err := f.index.Authenticate(pat2.Token, ""); err != nil {
		t.Fatalf("renewed: %v", err)
	}
}

// A password change ends every other session of the user at once.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	index := principals.New(nil, nil)
	user := uuid.NewString()
	index.Observe([]events.Recorded{rec(events.UserStream(user), 0, events.UserRegisteredV1{UserID: user, Username: "ada"})})
	var minted []tokens.Minted
	for range 3 {
		m, _ := tokens.NewSession()
		minted = append(minted, m)
		index.Observe([]events.Recorded{rec(events.SessionStream(m.ID), 0, events.SessionStartedV1{SessionID: m.ID, UserID: user, TokenDigest: m.Digest, ExpiresAt: time.Now().Add(time.Hour)})})
	}
	if got := len(index.SessionsOf(user)); got != 3 {
		t.Fatalf("%d sessions", got)
	}
	index.Observe([]events.Recorded{rec(events.UserStream(user), 1, events.UserPasswordChangedV1{UserID: user, PasswordHash: "h", KeptSessionID: minted[1].ID})})
	for i, m := range minted {
		_, err := index.Authenticate(m.Token, "")
		if (err == nil) != (i == 1) {
			t.Errorf("session %d after the change: %v", i, err)
		}
	}
	// The ended ones are still to be ended with their own events: the
	// command finds them here, and a repair job should it stop half way.
	if got := len(index.SessionsOf(user)); got != 3 {
		t.Fatalf("%d sessions listed before their session.ended", got)
	}
	if got := index.Sessions(); got != 1 {
		t.Fatalf("%d live sessions counted", got)
	}
	unended := index.Unended(time.Now().Add(time.Minute))
	if len(unended) != 2 || unended[0].Reason != events.SessionPasswordChanged || unended[0].UserID != user {
		t.Fatalf("unended %+v", unended)
	}
	if got := index.Unended(time.Now().Add(-time.Minute)); len(got) != 0 {
		t.Fatalf("unended before the change: %+v", got)
	}
	for _, i := range []int{0, 2} {
		index.Observe([]events.Recorded{rec(events.SessionStream(minted[i].ID), 1, events.SessionEndedV1{SessionID: minted[i].ID, UserID: user, Reason: events.SessionPasswordChanged})})
	}
	if got := index.SessionsOf(user); len(got) != 1 || got[0] != minted[1].ID {
		t.Fatalf("sessions %v", got)
	}
	if got := index.Unended(time.Now().Add(time.Minute)); len(got) != 0 {
		t.Fatalf("unended after their session.ended: %+v", got)
	}
}

// Disabling an account ends its sessions for good: enabling it again
// brings none back, even when their session.ended never came.
func TestDisableEndsSessionsForGood(t *testing.T) {
	index := principals.New(nil, nil)
	user := uuid.NewString()
	index.Observe([]events.Recorded{rec(events.UserStream(user), 0, events.UserRegisteredV1{UserID: user, Username: "ada"})})
	m, _ := tokens.NewSession()
	index.Observe([]events.Recorded{rec(events.SessionStream(m.ID), 0, events.SessionStartedV1{SessionID: m.ID, UserID: user, TokenDigest: m.Digest, ExpiresAt: time.Now().Add(time.Hour)})})
	index.Observe([]events.Recorded{rec(events.UserStream(user), 1, events.UserDisabledV1{UserID: user})})
	index.Observe([]events.Recorded{rec(events.UserStream(user), 2, events.UserEnabledV1{UserID: user})})
	if _, err := index.Authenticate(m.Token, ""); !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("a session of a disabled and enabled account: %v", err)
	}
	if got := index.Unended(time.Now().Add(time.Minute)); len(got) != 1 || got[0].SessionID != m.ID || got[0].Reason != events.SessionAccountDisabled {
		t.Fatalf("unended %+v", got)
	}
}

// BenchmarkTokenIndexMemory reports the index's heap per live token at
// 100,000 tokens (target: at most 512 bytes).
func BenchmarkTokenIndexMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		index := principals.New(nil, nil)
		users := make([]string, n/10)
		for i := range users {
			users[i] = uuid.NewString()
		}
		revs := map[string]uint64{}
		for i := range n {
			pat, _ := tokens.NewPAT()
			user := users[i%len(users)]
			stream := events.TokensStream(user)
			index.Observe([]events.Recorded{rec(stream, revs[stream], events.TokenCreatedV1{
				TokenID: uuid.NewString(), UserID: user, Title: fmt.Sprint("token ", i), Scopes: []string{"profile:read", "tokens:write"},
				ExpiresAt: time.Now().Add(time.Hour), Enabled: true, TokenDigest: pat.Digest, TokenPrefix: pat.Prefix, IssuedAt: time.Now(),
			})})
			revs[stream]++
		}
		revs = nil
		users = nil
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if index.Tokens() != n {
			b.Fatalf("%d tokens", index.Tokens())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/token")
		runtime.KeepAlive(index)
	}
}

func TestAddressAllowed(t *testing.T) {
	limits := []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		allowed []netip.Prefix
		ip      string
		want    bool
	}{
		{"no limits", nil, "203.0.113.7", true},
		{"inside", limits, "10.9.9.9", true},
		{"inside, IPv4 mapped to IPv6", limits, "::ffff:10.9.9.9", true},
		{"inside the IPv6 prefix", limits, "2001:db8::1", true},
		{"outside", limits, "10.9.9.8", false},
		{"outside, IPv6", limits, "2001:db9::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := principals.AddressAllowed(tt.allowed, netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Fatalf("%v", got)
			}
		})
	}
}
