package commands_test

import (
	"context"
	"encoding/json"
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
	"github.com/accountd/accountd/internal/testenv"
)

// cheapHashing keeps tests fast; the production setting is checked in
// internal/password.
var cheapHashing = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

type harness struct {
	t   *testing.T
	ctx context.Context
	log *eventlog.Log
	h   *commands.Handlers
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	t.Parallel()
	_, client := testenv.EventStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	hs := &harness{t: t, ctx: ctx, log: eventlog.New(client), now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	h, err := commands.New(commands.Config{Log: hs.log, PasswordParams: cheapHashing, Now: func() time.Time { return hs.now }})
	if err != nil {
		t.Fatal(err)
	}
	hs.h = h
	return hs
}

func meta() events.Metadata {
	return events.Metadata{CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), ClientIP: "192.0.2.1", UserAgent: "test"}
}

// given appends past events to a stream, stamped at the given time.
func (hs *harness) given(stream string, at time.Time, evs ...eventlog.NewEvent) {
	hs.t.Helper()
	m := meta()
	m.Time = at
	if _, err := hs.log.Append(hs.ctx, stream, eventlog.AnyVersion, m, evs...); err != nil {
		hs.t.Fatal(err)
	}
}

// givenUser registers a user directly through events.
func (hs *harness) givenUser(name string) string {
	id := uuid.NewString()
	hash, _ := password.Hash("correct7horse", cheapHashing)
	hs.given(events.UsernameStream(strings.ToLower(name)), hs.now.Add(-time.Hour), eventlog.NewEvent{
		Type: events.UsernameClaimed, Data: events.UsernameClaimedV1{Username: name, UserID: id}})
	hs.given(events.UserStream(id), hs.now.Add(-time.Hour), eventlog.NewEvent{
		Type: events.UserRegistered, Data: events.UserRegisteredV1{UserID: id, Username: name, PasswordHash: hash}})
	return id
}

// then returns the types and payloads a stream holds after revision `after`.
func (hs *harness) then(stream string, after eventlog.Version) []eventlog.Recorded {
	hs.t.Helper()
	evs, err := hs.log.Read(hs.ctx, stream, after)
	if err != nil {
		hs.t.Fatal(err)
	}
	return evs
}

func types(evs []eventlog.Recorded) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func decode[T any](t *testing.T, e eventlog.Recorded) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func ptr(s string) *string { return &s }

func violationCodes(err error) []string {
	var ve *commands.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.Code)
	}
	return out
}

func TestRegisterUser(t *testing.T) {
	hs := newHarness(t)
	m := meta()
	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{
		Username: "Ada", Password: "correct7horse",
		Profile: commands.ProfileChange{Email: ptr("ada@example.com"), PreferredLanguage: ptr("tr-tr")},
	}, m)
	if err != nil {
		t.Fatal(err)
	}
	user := hs.then(events.UserStream(reg.UserID), eventlog.NoStream)
	if got := types(user); !slices.Equal(got, []string{events.UserRegistered}) {
		t.Fatalf("user stream: %v", got)
	}
	p := decode[events.UserRegisteredV1](t, user[0])
	if p.Username != "Ada" || p.UserID != reg.UserID || *p.Email != "ada@example.com" || *p.PreferredLanguage != "tr-TR" {
		t.Fatalf("payload %+v", p)
	}
	if !strings.HasPrefix(p.PasswordHash, "$argon2id$") || strings.Contains(string(user[0].Data), "correct7horse") {
		t.Fatalf("password not hashed: %s", user[0].Data)
	}
	md := user[0].Metadata
	if md.SchemaVersion != events.SchemaVersion || md.CorrelationID != m.CorrelationID || md.ClientIP != "192.0.2.1" || !md.Time.Equal(hs.now) || md.Actor != reg.UserID {
		t.Fatalf("metadata %+v", md)
	}
	claim := hs.then(events.UsernameStream("ada"), eventlog.NoStream)
	if got := types(claim); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Fatalf("reservation stream: %v", got)
	}
	if c := decode[events.UsernameClaimedV1](t, claim[0]); c.UserID != reg.UserID {
		t.Fatalf("claim %+v", c)
	}
	if reg.Position == 0 {
		t.Fatal("no consistency token")
	}
}

func TestRegisterUserRejects(t *testing.T) {
	hs := newHarness(t)
	hs.givenUser("grace")
	tests := []struct {
		name    string
		cmd     commands.RegisterUser
		wantErr error
		codes   []string
	}{
		{"bad username and password", commands.RegisterUser{Username: "1a", Password: "short"}, nil,
			[]string{"username.too_short", "username.starts_with_digit", "password.too_short", "password.needs_digit", "password.too_common"}},
		{"common password", commands.RegisterUser{Username: "hopper", Password: "password1"}, nil, []string{"password.too_common"}},
		{"bad email", commands.RegisterUser{Username: "hopper", Password: "correct7horse", Profile: commands.ProfileChange{Email: ptr("nope")}}, nil, []string{"email.invalid"}},
		{"bad timezone", commands.RegisterUser{Username: "hopper", Password: "correct7horse", Profile: commands.ProfileChange{PreferredTimezone: ptr("Mars/Base")}}, nil, []string{"preferred_timezone.unknown"}},
		{"taken in another case", commands.RegisterUser{Username: "GRACE", Password: "correct7horse"}, commands.ErrUsernameTaken, nil},
	}
	for _, tt := range tests {
		_, err := hs.h.RegisterUser(hs.ctx, tt.cmd, meta())
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.codes != nil && !slices.Equal(violationCodes(err), tt.codes) {
			t.Errorf("%s: violations %v, want %v", tt.name, violationCodes(err), tt.codes)
		}
	}
	// Nothing was written: hopper has no reservation, grace's is untouched.
	if evs := hs.then(events.UsernameStream("hopper"), eventlog.NoStream); len(evs) != 0 {
		t.Fatalf("rejected registration wrote %v", types(evs))
	}
	if evs := hs.then(events.UsernameStream("grace"), eventlog.NoStream); len(evs) != 1 {
		t.Fatalf("grace's reservation changed: %v", types(evs))
	}
}

func TestRegisterReconcilesAbandonedClaim(t *testing.T) {
	hs := newHarness(t)
	// A claim whose registration never happened (the service died between).
	ghost := uuid.NewString()
	hs.given(events.UsernameStream("linus"), hs.now.Add(-time.Minute), eventlog.NewEvent{
		Type: events.UsernameClaimed, Data: events.UsernameClaimedV1{Username: "linus", UserID: ghost}})

	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "Linus", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	evs := hs.then(events.UsernameStream("linus"), 0)
	if got := types(evs); !slices.Equal(got, []string{events.UsernameReleased, events.UsernameClaimed}) {
		t.Fatalf("reservation: %v", got)
	}
	if r := decode[events.UsernameReleasedV1](t, evs[0]); r.UserID != ghost || r.Reason != events.ReleaseAbandonedClaim {
		t.Fatalf("release %+v", r)
	}
	if c := decode[events.UsernameClaimedV1](t, evs[1]); c.UserID != reg.UserID {
		t.Fatalf("claim %+v", c)
	}
}

func TestFreshClaimIsNotTakenOver(t *testing.T) {
	hs := newHarness(t)
	// A claim made a moment ago belongs to a request still in flight.
	hs.given(events.UsernameStream("linus"), hs.now.Add(-time.Second), eventlog.NewEvent{
		Type: events.UsernameClaimed, Data: events.UsernameClaimedV1{Username: "linus", UserID: uuid.NewString()}})
	_, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "linus", Password: "correct7horse"}, meta())
	if !errors.Is(err, commands.ErrUsernameTaken) {
		t.Fatalf("err %v, want taken", err)
	}
}

func TestRenameUser(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	res, err := hs.h.RenameUser(hs.ctx, commands.RenameUser{UserID: id, NewUsername: "Countess"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	user := hs.then(events.UserStream(id), 0)
	if got := types(user); !slices.Equal(got, []string{events.UserRenamed}) {
		t.Fatalf("user stream: %v", got)
	}
	if r := decode[events.UserRenamedV1](t, user[0]); r.OldUsername != "ada" || r.NewUsername != "Countess" {
		t.Fatalf("rename %+v", r)
	}
	if res.Revision != 1 {
		t.Fatalf("revision %d", res.Revision)
	}
	if got := types(hs.then(events.UsernameStream("countess"), eventlog.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Fatalf("new name: %v", got)
	}
	old := hs.then(events.UsernameStream("ada"), 0)
	if got := types(old); !slices.Equal(got, []string{events.UsernameReleased}) {
		t.Fatalf("old name: %v", got)
	}
	// The old name is free for someone else at once.
	if _, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, meta()); err != nil {
		t.Fatalf("old name not free: %v", err)
	}
}

func TestRenameUserCases(t *testing.T) {
	hs := newHarness(t)
	ada := hs.givenUser("ada")
	hs.givenUser("grace")
	stale := uint64(7)
	tests := []struct {
		name      string
		cmd       commands.RenameUser
		wantErr   error
		userAfter []string // new events on ada's stream
	}{
		{"taken", commands.RenameUser{UserID: ada, NewUsername: "Grace"}, commands.ErrUsernameTaken, nil},
		{"invalid", commands.RenameUser{UserID: ada, NewUsername: "a b"}, &commands.ValidationError{}, nil},
		{"stale if-match", commands.RenameUser{UserID: ada, NewUsername: "lovelace", IfMatch: &stale}, commands.ErrPreconditionFailed, nil},
		{"same name", commands.RenameUser{UserID: ada, NewUsername: "ada"}, nil, nil},
		{"case only", commands.RenameUser{UserID: ada, NewUsername: "ADA"}, nil, []string{events.UserRenamed}},
		{"unknown user", commands.RenameUser{UserID: uuid.NewString(), NewUsername: "nobody"}, commands.ErrUserNotFound, nil},
	}
	for _, tt := range tests {
		before := hs.then(events.UserStream(ada), eventlog.NoStream)
		_, err := hs.h.RenameUser(hs.ctx, tt.cmd, meta())
		var ve *commands.ValidationError
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case errors.As(tt.wantErr, &ve):
			if !errors.As(err, &ve) {
				t.Errorf("%s: err %v, want validation error", tt.name, err)
			}
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.wantErr)
		}
		after := hs.then(events.UserStream(ada), eventlog.Version(len(before)-1))
		if got := types(after); !slices.Equal(got, tt.userAfter) {
			t.Errorf("%s: wrote %v, want %v", tt.name, got, tt.userAfter)
		}
	}
	// A failed rename leaves no claim behind, and case-only renames keep one.
	if r := hs.then(events.UsernameStream("lovelace"), eventlog.NoStream); len(r) != 0 {
		if got := types(r); !slices.Equal(got, []string{events.UsernameClaimed, events.UsernameReleased}) {
			t.Errorf("lovelace reservation: %v", got)
		}
	}
	if got := types(hs.then(events.UsernameStream("ada"), eventlog.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Errorf("ada reservation: %v", got)
	}
}

func TestConcurrentRenamesToOneNameHaveOneWinner(t *testing.T) {
	hs := newHarness(t)
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		ids[i] = hs.givenUser("user" + strings.Repeat("x", i%5) + uuid.NewString()[:8])
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = hs.h.RenameUser(hs.ctx, commands.RenameUser{UserID: ids[i], NewUsername: "Popular"}, meta())
		}()
	}
	close(start)
	wg.Wait()
	winners, taken := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			winners++
		case errors.Is(err, commands.ErrUsernameTaken):
			taken++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if winners != 1 || taken != n-1 {
		t.Fatalf("%d winners, %d taken", winners, taken)
	}
	if got := types(hs.then(events.UsernameStream("popular"), eventlog.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Fatalf("reservation: %v", got)
	}
}

func TestUpdateProfile(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	res, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{
		FullName: ptr("Ada Lovelace"), PreferredTimezone: ptr("Europe/London"),
	}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	// Only changed fields are recorded; an update that changes nothing writes nothing.
	again, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{
		FullName: ptr("Ada Lovelace"), Description: ptr("Analyst"),
	}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{Description: ptr("Analyst")}}, meta()); err != nil {
		t.Fatal(err)
	}
	evs := hs.then(events.UserStream(id), 0)
	if len(evs) != 2 || res.Revision != 1 || again.Revision != 2 {
		t.Fatalf("events %v, revisions %d %d", types(evs), res.Revision, again.Revision)
	}
	second := decode[events.UserProfileUpdatedV1](t, evs[1])
	if second.FullName != nil || second.Description == nil || *second.Description != "Analyst" {
		t.Fatalf("second update %+v", second)
	}

	tests := []struct {
		name   string
		change commands.ProfileChange
		match  *uint64
		err    error
		codes  []string
	}{
		{"bad email", commands.ProfileChange{Email: ptr("ada@")}, nil, nil, []string{"email.invalid"}},
		{"long description", commands.ProfileChange{Description: ptr(strings.Repeat("x", 1001))}, nil, nil, []string{"description.too_long"}},
		{"long name", commands.ProfileChange{FullName: ptr(strings.Repeat("x", 201))}, nil, nil, []string{"full_name.too_long"}},
		{"unsupported language", commands.ProfileChange{PreferredLanguage: ptr("de")}, nil, nil, []string{"preferred_language.unsupported"}},
		{"stale", commands.ProfileChange{FullName: ptr("A")}, ptr64(1), commands.ErrPreconditionFailed, nil},
	}
	for _, tt := range tests {
		_, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: tt.change, IfMatch: tt.match}, meta())
		if tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v", tt.name, err)
		}
		if tt.codes != nil && !slices.Equal(violationCodes(err), tt.codes) {
			t.Errorf("%s: violations %v", tt.name, violationCodes(err))
		}
	}
	if evs := hs.then(events.UserStream(id), 2); len(evs) != 0 {
		t.Fatalf("rejected updates wrote %v", types(evs))
	}
	if _, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{FullName: ptr("A")}, IfMatch: ptr64(2)}, meta()); err != nil {
		t.Fatalf("current if-match refused: %v", err)
	}
}

func ptr64(v uint64) *uint64 { return &v }

type recordingRegistry struct {
	mu      sync.Mutex
	started []events.SessionStartedV1
	ended   []string
}

func (r *recordingRegistry) Started(s events.SessionStartedV1) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, s)
}

func (r *recordingRegistry) Ended(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, id)
}

func TestSignInAndOut(t *testing.T) {
	hs := newHarness(t)
	reg := &recordingRegistry{}
	h, err := commands.New(commands.Config{Log: hs.log, PasswordParams: cheapHashing, Sessions: reg, Now: func() time.Time { return hs.now }, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	id := hs.givenUser("ada")

	for _, bad := range []commands.SignIn{{Username: "ada", Password: "wrong7horse"}, {Username: "nobody", Password: "correct7horse"}, {}} {
		if _, err := h.SignIn(hs.ctx, bad, meta()); !errors.Is(err, commands.ErrInvalidCredentials) {
			t.Fatalf("%+v: err %v", bad, err)
		}
	}
	in, err := h.SignIn(hs.ctx, commands.SignIn{Username: "ADA", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if in.UserID != id || !in.ExpiresAt.Equal(hs.now.Add(time.Hour)) || len(reg.started) != 1 {
		t.Fatalf("signed in %+v, registry %+v", in, reg.started)
	}
	started := hs.then(events.SessionStream(in.SessionID), eventlog.NoStream)
	p := decode[events.SessionStartedV1](t, started[0])
	sid, secret, ok := commands.ParseToken(in.Token)
	if !ok || sid != in.SessionID || !commands.DigestMatches(secret, p.TokenDigest) || strings.Contains(string(started[0].Data), secret) {
		t.Fatalf("token %q vs stored %+v", in.Token, p)
	}

	if _, err := h.SignOut(hs.ctx, commands.SignOut{UserID: id, SessionID: in.SessionID}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SignOut(hs.ctx, commands.SignOut{UserID: id, SessionID: in.SessionID}, meta()); err != nil {
		t.Fatalf("second sign-out: %v", err)
	}
	if got := types(hs.then(events.SessionStream(in.SessionID), eventlog.NoStream)); !slices.Equal(got, []string{events.SessionStarted, events.SessionEnded}) {
		t.Fatalf("session stream %v", got)
	}
	if _, err := h.SignOut(hs.ctx, commands.SignOut{UserID: uuid.NewString(), SessionID: in.SessionID}, meta()); !errors.Is(err, commands.ErrSessionNotFound) {
		t.Fatalf("someone else's session: %v", err)
	}
}

func TestFoldUserIsPure(t *testing.T) {
	reg := eventlog.Recorded{Type: events.UserRegistered, Data: []byte(`{"user_id":"u1","username":"ada","password_hash":"h","email":"a@b.co"}`)}
	ren := eventlog.Recorded{Type: events.UserRenamed, Data: []byte(`{"user_id":"u1","old_username":"ada","new_username":"grace"}`)}
	upd := eventlog.Recorded{Type: events.UserProfileUpdated, Data: []byte(`{"user_id":"u1","full_name":"G","email":""}`)}
	u := commands.User{}
	for _, e := range []eventlog.Recorded{reg, ren, upd, {Type: "user.unknown_future_event", Data: []byte(`{}`)}} {
		var err error
		if u, err = commands.FoldUser(u, e); err != nil {
			t.Fatal(err)
		}
	}
	want := commands.User{ID: "u1", Username: "grace", PasswordHash: "h", Profile: commands.ProfileFields{FullName: "G"}}
	if u != want {
		t.Fatalf("got %+v, want %+v", u, want)
	}
	if _, err := commands.FoldUser(u, eventlog.Recorded{Type: events.UserRenamed, Data: []byte(`{`)}); err == nil {
		t.Fatal("a corrupt event folded silently")
	}
}
