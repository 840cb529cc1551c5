package commands_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/tokens"
)

// directory is an in-memory commands.Directory for the tests.
type directory struct {
	mu       sync.Mutex
	tokens   map[string][2]string // digest -> user, token
	sessions map[string][]string
	admins   map[string]bool
}

func (d *directory) Admins() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, ok := range d.admins {
		if ok {
			out = append(out, id)
		}
	}
	return out
}

func (d *directory) TokenByDigest(digest string) (string, string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.tokens[digest]
	return v[0], v[1], ok
}

func (d *directory) SessionsOf(user string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sessions[user])
}

func (d *directory) Observe(recs []events.Recorded) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recs {
		switch p := r.Payload.(type) {
		case events.TokenCreatedV1:
			d.tokens[p.TokenDigest] = [2]string{p.UserID, p.TokenID}
		case events.TokenRotatedV1:
			d.tokens[p.TokenDigest] = [2]string{p.UserID, p.TokenID}
		case events.SessionStartedV1:
			d.sessions[p.UserID] = append(d.sessions[p.UserID], p.SessionID)
		case events.SessionEndedV1:
			d.sessions[p.UserID] = slices.DeleteFunc(d.sessions[p.UserID], func(id string) bool { return id == p.SessionID })
		case events.UserRoleGrantedV1:
			d.admins[p.UserID] = p.Role == events.RoleAdmin || d.admins[p.UserID]
		case events.UserRoleRevokedV1:
			d.admins[p.UserID] = d.admins[p.UserID] && p.Role != events.RoleAdmin
		}
	}
}

func newCredentialHarness(t *testing.T) (*harness, *directory) {
	dir := &directory{tokens: map[string][2]string{}, sessions: map[string][]string{}, admins: map[string]bool{}}
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Directory: dir, Observers: []commands.Observer{dir}, MaxLiveTokens: 3})
	return hs, dir
}

func spec(scopes ...string) commands.TokenSpec {
	return commands.TokenSpec{Title: "ci", Scopes: scopes, ExpiresAt: time.Date(2026, 12, 23, 12, 0, 0, 0, time.UTC), Enabled: true}
}

func TestChangePassword(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	id := hs.givenUser("ada")
	var sessions []string
	for range 3 {
		in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta())
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, in.SessionID)
	}
	_, err := hs.h.ChangePassword(hs.ctx, commands.ChangePassword{UserID: id, SessionID: sessions[0], Current: "wrong7horse", New: "battery9staple", Confirm: "battery9staple"}, meta())
	if !errors.Is(err, commands.ErrWrongPassword) {
		t.Fatalf("wrong current: %v", err)
	}
	if _, err := hs.h.ChangePassword(hs.ctx, commands.ChangePassword{UserID: id, SessionID: sessions[0], Current: "correct7horse", New: "battery9staple", Confirm: "battery9staple"}, meta()); err != nil {
		t.Fatal(err)
	}
	evs := hs.then(events.UserStream(id), 0)
	changed := evs[0].Payload.(events.UserPasswordChangedV1)
	if len(evs) != 1 || changed.KeptSessionID != sessions[0] || !strings.HasPrefix(changed.PasswordHash, "$argon2id$") {
		t.Fatalf("events %v", types(evs))
	}
	if ok, _ := password.Verify("battery9staple", changed.PasswordHash); !ok {
		t.Fatal("the new hash does not verify")
	}
	for i, s := range sessions {
		got := types(hs.then(events.SessionStream(s), commands.NoStream))
		want := []string{events.SessionStarted, events.SessionEnded}
		if i == 0 {
			want = want[:1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("session %d: %v", i, got)
		}
	}
	if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta()); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "battery9staple"}, meta()); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestTokenCommands(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	user := uuid.NewString()
	stream := events.TokensStream(user)
	created, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: user, Spec: spec("tokens:write", "profile:read", "profile:read")}, meta())
	if err != nil {
		t.Fatal(err)
	}
	p := hs.then(stream, commands.NoStream)[0].Payload.(events.TokenCreatedV1)
	if !tokens.ValidPAT(created.Secret) || p.TokenDigest != tokens.PATDigest(created.Secret) || p.TokenPrefix != created.Secret[:12] ||
		!slices.Equal(p.Scopes, []string{"profile:read", "tokens:write"}) {
		t.Fatalf("created %+v", p)
	}
	// A token cannot grant what it does not hold.
	_, err = hs.h.CreateToken(hs.ctx, commands.CreateToken{UserID: user, Spec: spec("profile:write"), Actor: commands.Actor{Scopes: []string{"tokens:write", "profile:read"}, ExpiresAt: hs.now.Add(60 * 24 * time.Hour)}}, meta())
	var se *commands.ScopeError
	if !errors.As(err, &se) || !slices.Equal(se.Missing, []string{"profile:write"}) {
		t.Fatalf("escalation: %v", err)
	}
	// The limit counts live tokens only.
	for range 2 {
		if _, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: user, Spec: spec("profile:read")}, meta()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: user, Spec: spec("profile:read")}, meta()); !slices.Equal(violationCodes(err), []string{"tokens.too_many"}) {
		t.Fatalf("fourth token: %v", err)
	}
	// Rotation without an expiry keeps the lifetime, from now.
	hs.now = hs.now.Add(24 * time.Hour)
	rotated, err := hs.h.RotateToken(hs.ctx, commands.RotateToken{Actor: commands.Actor{Session: true}, UserID: user, TokenID: created.Token.ID}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if want := hs.now.Add(30 * 24 * time.Hour); !rotated.Token.ExpiresAt.Equal(want) || rotated.Token.ID != created.Token.ID || rotated.Secret == created.Secret {
		t.Fatalf("rotated to %v, want %v", rotated.Token.ExpiresAt, want)
	}
	// The old secret comes back: recorded with its address, and the token revoked.
	if err := hs.h.ReportTokenReuse(hs.ctx, commands.ReportTokenReuse{Digest: created.Token.Digest, ClientIP: "203.0.113.9"}, meta()); err != nil {
		t.Fatal(err)
	}
	tail := hs.then(stream, commands.Version(len(hs.then(stream, commands.NoStream))-4))
	if got := types(tail); !slices.Equal(got, []string{events.TokenRotated, events.TokenReuseDetected, events.TokenRevoked}) {
		t.Fatalf("after reuse %v", got)
	}
	if r := tail[1].Payload.(events.TokenReuseDetectedV1); r.ClientIP != "203.0.113.9" {
		t.Fatalf("reuse %+v", r)
	}
	// Reported: revoked once; unknown and malformed reports change nothing.
	before := len(hs.then(stream, commands.NoStream))
	if err := hs.h.RevokeTokens(hs.ctx, commands.RevokeTokens{Tokens: []string{"acp_junk", rotated.Secret, rotated.Secret}}, meta()); err != nil {
		t.Fatal(err)
	}
	if got := len(hs.then(stream, commands.NoStream)); got != before {
		t.Fatalf("a revoked token was revoked again: %d events after %d", got, before)
	}
	// Another user's token is not found.
	if _, err := hs.h.DeleteToken(hs.ctx, commands.DeleteToken{Actor: commands.Actor{Session: true}, UserID: uuid.NewString(), TokenID: created.Token.ID}, meta()); !errors.Is(err, commands.ErrTokenNotFound) {
		t.Fatalf("someone else's token: %v", err)
	}
	if _, err := hs.h.DeleteAllTokens(hs.ctx, commands.DeleteAllTokens{Actor: commands.Actor{Session: true}, UserID: user}, meta()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range hs.then(stream, commands.NoStream) {
		if e.Type == events.TokenDeleted {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d deletions", n)
	}
}

// Uses are recorded once a minute per credential, sooner from a new address.
func TestUsesAreRecordedCoarsely(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	user := uuid.NewString()
	created, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: user, Spec: spec("profile:read")}, meta())
	if err != nil {
		t.Fatal(err)
	}
	note := func(ip string) {
		if err := hs.h.NoteTokenUse(hs.ctx, commands.NoteTokenUse{UserID: user, TokenID: created.Token.ID, ClientIP: ip}, meta()); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		note("192.0.2.1")
	}
	note("192.0.2.2")
	hs.now = hs.now.Add(61 * time.Second)
	note("192.0.2.1")
	var got []string
	for _, e := range hs.then(events.TokensStream(user), 0) {
		got = append(got, e.Payload.(events.TokenUsedV1).ClientIP)
	}
	if !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2", "192.0.2.1"}) {
		t.Fatalf("recorded uses %v", got)
	}
}
