package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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

// cheapHashing keeps tests fast; the production setting is checked in
// internal/password.
var cheapHashing = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// harness runs commands against an in-memory log: given past events, when
// a command runs, then the streams hold these new events.
type harness struct {
	t        *testing.T
	ctx      context.Context
	log      commands.EventLog
	h        *commands.Handlers
	now      time.Time
	observed *recorder
}

type recorder struct {
	mu   sync.Mutex
	recs []events.Recorded
}

func (r *recorder) Observe(recs []events.Recorded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, recs...)
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.recs {
		out = append(out, e.Type)
	}
	return out
}

func newHarness(t *testing.T) *harness {
	return newHarnessOn(t, eventlog.NewMemory(), commands.Config{})
}

func newHarnessOn(t *testing.T, log commands.EventLog, cfg commands.Config) *harness {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	hs := &harness{t: t, ctx: ctx, log: log, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), observed: &recorder{}}
	cfg.Log, cfg.PasswordParams, cfg.Now = log, cheapHashing, func() time.Time { return hs.now }
	cfg.Observers = append(cfg.Observers, hs.observed)
	h, err := commands.New(cfg)
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
func (hs *harness) given(stream string, at time.Time, ps ...events.Payload) {
	hs.t.Helper()
	m := meta()
	m.Time = at
	if _, err := hs.log.Append(hs.ctx, stream, commands.AnyVersion, m, ps...); err != nil {
		hs.t.Fatal(err)
	}
}

// givenUser registers a user directly through events.
func (hs *harness) givenUser(name string) string {
	hs.t.Helper()
	id := uuid.NewString()
	hash, _ := password.Hash("correct7horse", cheapHashing)
	hs.given(events.UsernameStream(strings.ToLower(name)), hs.now.Add(-time.Hour), events.UsernameClaimedV1{Username: name, UserID: id})
	hs.given(events.UserStream(id), hs.now.Add(-time.Hour), events.UserRegisteredV1{UserID: id, Username: name, PasswordHash: hash})
	return id
}

// then returns the events a stream holds after revision after.
func (hs *harness) then(stream string, after commands.Version) []events.Recorded {
	hs.t.Helper()
	evs, err := hs.log.ReadStream(hs.ctx, stream, after)
	if err != nil {
		hs.t.Fatal(err)
	}
	return evs
}

func types(evs []events.Recorded) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func ptr(s string) *string   { return &s }
func ptr64(v uint64) *uint64 { return &v }

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
		Profile: commands.ProfileChange{"email": "ada@example.com", "preferred_language": "tr-tr"},
	}, m)
	if err != nil {
		t.Fatal(err)
	}
	user := hs.then(events.UserStream(reg.User.ID), commands.NoStream)
	if got := types(user); !slices.Equal(got, []string{events.UserRegistered}) {
		t.Fatalf("user stream: %v", got)
	}
	p := user[0].Payload.(events.UserRegisteredV1)
	if p.Username != "Ada" || p.UserID != reg.User.ID || p.Get("email") != "ada@example.com" || p.Get("preferred_language") != "tr-TR" {
		t.Fatalf("payload %+v", p)
	}
	raw, _ := json.Marshal(p)
	if !strings.HasPrefix(p.PasswordHash, "$argon2id$") || strings.Contains(string(raw), "correct7horse") {
		t.Fatalf("password not hashed: %s", raw)
	}
	md := user[0].Metadata
	if md.SchemaVersion != events.SchemaVersion || md.CorrelationID != m.CorrelationID || md.ClientIP != "192.0.2.1" || !md.Time.Equal(hs.now) || md.Actor != reg.User.ID {
		t.Fatalf("metadata %+v", md)
	}
	claim := hs.then(events.UsernameStream("ada"), commands.NoStream)
	if got := types(claim); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Fatalf("reservation stream: %v", got)
	}
	if c := claim[0].Payload.(events.UsernameClaimedV1); c.UserID != reg.User.ID {
		t.Fatalf("claim %+v", c)
	}
	if reg.Position == 0 || reg.Position < claim[0].Position || reg.User.Username != "Ada" || reg.Revision != 0 {
		t.Fatalf("result %+v", reg)
	}
	if got := hs.observed.types(); !slices.Equal(got, []string{events.UsernameClaimed, events.UserRegistered}) {
		t.Fatalf("observers were told %v", got)
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
		{"bad email", commands.RegisterUser{Username: "hopper", Password: "correct7horse", Profile: commands.ProfileChange{"email": "nope"}}, nil, []string{"email.invalid"}},
		{"bad timezone", commands.RegisterUser{Username: "hopper", Password: "correct7horse", Profile: commands.ProfileChange{"preferred_timezone": "Mars/Base"}}, nil, []string{"preferred_timezone.unknown"}},
		{"taken in another case", commands.RegisterUser{Username: "GRACE", Password: "correct7horse"}, commands.ErrUsernameTaken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hs.h.RegisterUser(hs.ctx, tt.cmd, meta())
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err %v, want %v", err, tt.wantErr)
			}
			if tt.codes != nil && !slices.Equal(violationCodes(err), tt.codes) {
				t.Errorf("violations %v, want %v", violationCodes(err), tt.codes)
			}
		})
	}
	// Nothing was written: hopper has no reservation, grace's is untouched.
	if evs := hs.then(events.UsernameStream("hopper"), commands.NoStream); len(evs) != 0 {
		t.Fatalf("rejected registration wrote %v", types(evs))
	}
	if evs := hs.then(events.UsernameStream("grace"), commands.NoStream); len(evs) != 1 {
		t.Fatalf("grace's reservation changed: %v", types(evs))
	}
}

func TestRegisterReconcilesAbandonedClaim(t *testing.T) {
	hs := newHarness(t)
	// A claim whose registration never happened (the service died between).
	ghost := uuid.NewString()
	hs.given(events.UsernameStream("linus"), hs.now.Add(-time.Minute), events.UsernameClaimedV1{Username: "linus", UserID: ghost})

	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "Linus", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	evs := hs.then(events.UsernameStream("linus"), 0)
	if got := types(evs); !slices.Equal(got, []string{events.UsernameReleased, events.UsernameClaimed}) {
		t.Fatalf("reservation: %v", got)
	}
	if r := evs[0].Payload.(events.UsernameReleasedV1); r.UserID != ghost || r.Reason != events.ReleaseAbandonedClaim {
		t.Fatalf("release %+v", r)
	}
	if c := evs[1].Payload.(events.UsernameClaimedV1); c.UserID != reg.User.ID {
		t.Fatalf("claim %+v", c)
	}
}

func TestFreshClaimIsNotTakenOver(t *testing.T) {
	hs := newHarness(t)
	// A claim made a moment ago belongs to a request still in flight.
	hs.given(events.UsernameStream("linus"), hs.now.Add(-time.Second), events.UsernameClaimedV1{Username: "linus", UserID: uuid.NewString()})
	_, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "linus", Password: "correct7horse"}, meta())
	if !errors.Is(err, commands.ErrUsernameTaken) {
		t.Fatalf("err %v, want taken", err)
	}
	if got := types(hs.then(events.UsernameStream("linus"), commands.NoStream)); len(got) != 1 {
		t.Fatalf("reservation: %v", got)
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
	if r := user[0].Payload.(events.UserRenamedV1); r.OldUsername != "ada" || r.NewUsername != "Countess" {
		t.Fatalf("rename %+v", r)
	}
	if res.Revision != 1 || res.User.Username != "Countess" {
		t.Fatalf("result %+v", res)
	}
	if got := types(hs.then(events.UsernameStream("countess"), commands.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Fatalf("new name: %v", got)
	}
	old := hs.then(events.UsernameStream("ada"), 0)
	if got := types(old); !slices.Equal(got, []string{events.UsernameReleased}) {
		t.Fatalf("old name: %v", got)
	}
	if res.Position != old[0].Position {
		t.Fatalf("consistency token %d, want the release at %d", res.Position, old[0].Position)
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
	tests := []struct {
		name      string
		cmd       commands.RenameUser
		wantErr   error
		userAfter []string // new events on ada's stream
	}{
		{"taken", commands.RenameUser{UserID: ada, NewUsername: "Grace"}, commands.ErrUsernameTaken, nil},
		{"invalid", commands.RenameUser{UserID: ada, NewUsername: "a b"}, &commands.ValidationError{}, nil},
		{"stale if-match", commands.RenameUser{UserID: ada, NewUsername: "lovelace", IfMatch: ptr64(7)}, commands.ErrPreconditionFailed, nil},
		{"same name", commands.RenameUser{UserID: ada, NewUsername: "ada"}, nil, nil},
		{"case only", commands.RenameUser{UserID: ada, NewUsername: "ADA"}, nil, []string{events.UserRenamed}},
		{"unknown user", commands.RenameUser{UserID: uuid.NewString(), NewUsername: "nobody"}, commands.ErrUserNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hs.then(events.UserStream(ada), commands.NoStream)
			_, err := hs.h.RenameUser(hs.ctx, tt.cmd, meta())
			var ve *commands.ValidationError
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("%v", err)
			case errors.As(tt.wantErr, &ve):
				if !errors.As(err, &ve) {
					t.Errorf("err %v, want validation error", err)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err %v, want %v", err, tt.wantErr)
			}
			after := hs.then(events.UserStream(ada), commands.Version(len(before)-1))
			if got := types(after); !slices.Equal(got, tt.userAfter) {
				t.Errorf("wrote %v, want %v", got, tt.userAfter)
			}
		})
	}
	// A failed rename leaves no claim behind, and case-only renames keep one.
	if got := types(hs.then(events.UsernameStream("lovelace"), commands.NoStream)); len(got) != 0 && !slices.Equal(got, []string{events.UsernameClaimed, events.UsernameReleased}) {
		t.Errorf("lovelace reservation: %v", got)
	}
	if got := types(hs.then(events.UsernameStream("nobody"), commands.NoStream)); len(got) != 0 && !slices.Equal(got, []string{events.UsernameClaimed, events.UsernameReleased}) {
		t.Errorf("nobody reservation: %v", got)
	}
	if got := types(hs.then(events.UsernameStream("ada"), commands.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Errorf("ada reservation: %v", got)
	}
}

func TestConcurrentRenamesToOneNameHaveOneWinner(t *testing.T) {
	concurrentRenames(newHarness(t))
}

func concurrentRenames(hs *harness) {
	t := hs.t
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
	if got := types(hs.then(events.UsernameStream("popular"), commands.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed}) {
		t.Fatalf("reservation: %v", got)
	}
}

func TestUpdateProfile(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	res, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{
		"full_name": "Ada Lovelace", "preferred_timezone": "Europe/London"}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	// Only changed fields are recorded; an update that changes nothing writes nothing.
	again, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{
		"full_name": "Ada Lovelace", "description": "Analyst"}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	same, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"description": "Analyst"}}, meta())
	if err != nil || same.Position != 0 || same.Revision != 2 {
		t.Fatalf("no-op update: %+v %v", same, err)
	}
	evs := hs.then(events.UserStream(id), 0)
	if len(evs) != 2 || res.Revision != 1 || again.Revision != 2 {
		t.Fatalf("events %v, revisions %d %d", types(evs), res.Revision, again.Revision)
	}
	second := evs[1].Payload.(events.UserProfileUpdatedV1)
	if !reflect.DeepEqual(second.Profile, events.Profile{"description": "Analyst"}) {
		t.Fatalf("second update %+v", second)
	}
	if got := again.User.Profile; got.Get("full_name") != "Ada Lovelace" || got.Get("description") != "Analyst" || got.Get("preferred_timezone") != "Europe/London" {
		t.Fatalf("state after %+v", got)
	}

	tests := []struct {
		name   string
		change commands.ProfileChange
		match  *uint64
		err    error
		codes  []string
	}{
		{"bad email", commands.ProfileChange{"email": "ada@"}, nil, nil, []string{"email.invalid"}},
		{"long description", commands.ProfileChange{"description": strings.Repeat("x", 1001)}, nil, nil, []string{"description.too_long"}},
		{"long name", commands.ProfileChange{"full_name": strings.Repeat("x", 201)}, nil, nil, []string{"full_name.too_long"}},
		{"unsupported language", commands.ProfileChange{"preferred_language": "de"}, nil, nil, []string{"preferred_language.unsupported"}},
		{"stale", commands.ProfileChange{"full_name": "A"}, ptr64(1), commands.ErrPreconditionFailed, nil},
		{"unknown user", commands.ProfileChange{"full_name": "A"}, nil, commands.ErrUserNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := id
			if tt.err == commands.ErrUserNotFound {
				user = uuid.NewString()
			}
			_, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: tt.change, IfMatch: tt.match}, meta())
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("err %v", err)
			}
			if tt.codes != nil && !slices.Equal(violationCodes(err), tt.codes) {
				t.Errorf("violations %v", violationCodes(err))
			}
		})
	}
	if evs := hs.then(events.UserStream(id), 2); len(evs) != 0 {
		t.Fatalf("rejected updates wrote %v", types(evs))
	}
	if _, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "A"}, IfMatch: ptr64(2)}, meta()); err != nil {
		t.Fatalf("current if-match refused: %v", err)
	}
}

// racingLog lets another writer (another replica) append to a stream just
// before each of the command's first n appends.
type racingLog struct {
	commands.EventLog
	mu    sync.Mutex
	races int
	racer func(ctx context.Context, stream string)
	tried int
}

func (l *racingLog) Append(ctx context.Context, stream string, expected commands.Version, meta events.Metadata, ps ...events.Payload) (commands.Appended, error) {
	l.mu.Lock()
	race := l.tried < l.races
	l.tried++
	l.mu.Unlock()
	if race {
		l.racer(ctx, stream)
	}
	return l.EventLog.Append(ctx, stream, expected, meta, ps...)
}

// A write that loses its race decides again on the state read from the
// log, so another replica's change is kept, not overwritten.
func TestUpdateDecidesAgainAfterLosingARace(t *testing.T) {
	mem := eventlog.NewMemory()
	racing := &racingLog{EventLog: mem}
	hs := newHarnessOn(t, racing, commands.Config{})
	id := hs.givenUser("ada")
	racing.races, racing.tried = 2, 0
	n := 0
	racing.racer = func(ctx context.Context, stream string) {
		n++
		if _, err := mem.Append(ctx, stream, commands.AnyVersion, meta(), events.UserProfileUpdatedV1{UserID: id, Profile: events.Profile{"description": fmt.Sprint("elsewhere ", n)}}); err != nil {
			t.Error(err)
		}
	}
	res, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "Ada"}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if got := types(hs.then(events.UserStream(id), 0)); len(got) != 3 || res.Revision != 3 {
		t.Fatalf("events %v, revision %d", got, res.Revision)
	}
	if p := res.User.Profile; p.Get("full_name") != "Ada" || p.Get("description") != "elsewhere 2" {
		t.Fatalf("state %+v", p)
	}
	// With If-Match, a lost race is the caller's conflict.
	racing.races, racing.tried = 1, 0
	_, err = hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "B"}, IfMatch: ptr64(3)}, meta())
	if !errors.Is(err, commands.ErrPreconditionFailed) {
		t.Fatalf("if-match after a lost race: %v", err)
	}
	// A stream that never stops changing gives up after a bounded number
	// of attempts.
	racing.races, racing.tried = 1000, 0
	_, err = hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "C"}}, meta())
	if !errors.Is(err, commands.ErrWrongExpectedVersion) || racing.tried > 10 {
		t.Fatalf("endless race: %v after %d appends", err, racing.tried)
	}
}

// Parallel updates of one account without If-Match all succeed, and the
// final state has every field of every write.
func TestParallelUpdatesWithoutIfMatchAllApply(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	const n = 30
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			change := commands.ProfileChange{"full_name": fmt.Sprint("Name ", i)}
			if i == 7 {
				change = commands.ProfileChange{"description": "seven"}
			}
			_, errs[i] = hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: change}, meta())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	var u commands.User
	for _, e := range hs.then(events.UserStream(id), commands.NoStream) {
		u = commands.FoldUser(u, e)
	}
	if _, named := u.Profile.Given("full_name"); u.Profile.Get("description") != "seven" || !named {
		t.Fatalf("final profile %+v", u.Profile)
	}
	if got := len(hs.then(events.UserStream(id), 0)); got != n {
		t.Fatalf("%d updates recorded, want %d", got, n)
	}
}

func TestSignInAndOut(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{SessionTTL: time.Hour})
	id := hs.givenUser("ada")

	for _, bad := range []commands.SignIn{{Username: "ada", Password: "wrong7horse"}, {Username: "nobody", Password: "correct7horse"}} {
		if _, err := hs.h.SignIn(hs.ctx, bad, meta()); !errors.Is(err, commands.ErrInvalidCredentials) {
			t.Fatalf("%+v: err %v", bad, err)
		}
	}
	if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{}, meta()); !slices.Equal(violationCodes(err), []string{"request.required", "request.required"}) {
		t.Fatalf("empty sign-in: %v", err)
	}
	in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ADA", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if in.UserID != id || !in.ExpiresAt.Equal(hs.now.Add(time.Hour)) || !slices.Equal(hs.observed.types(), []string{events.SessionStarted}) {
		t.Fatalf("signed in %+v, observed %v", in, hs.observed.types())
	}
	started := hs.then(events.SessionStream(in.SessionID), commands.NoStream)
	p := started[0].Payload.(events.SessionStartedV1)
	sid, secret, ok := tokens.ParseSession(in.Token)
	raw, _ := json.Marshal(p)
	if !ok || sid != in.SessionID || !tokens.Matches(secret, p.TokenDigest) || strings.Contains(string(raw), secret) {
		t.Fatalf("token %q vs stored %+v", in.Token, p)
	}

	if _, err := hs.h.SignOut(hs.ctx, commands.SignOut{UserID: id, SessionID: in.SessionID}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.SignOut(hs.ctx, commands.SignOut{UserID: id, SessionID: in.SessionID}, meta()); err != nil {
		t.Fatalf("second sign-out: %v", err)
	}
	if got := types(hs.then(events.SessionStream(in.SessionID), commands.NoStream)); !slices.Equal(got, []string{events.SessionStarted, events.SessionEnded}) {
		t.Fatalf("session stream %v", got)
	}
	if _, err := hs.h.SignOut(hs.ctx, commands.SignOut{UserID: uuid.NewString(), SessionID: in.SessionID}, meta()); !errors.Is(err, commands.ErrSessionNotFound) {
		t.Fatalf("someone else's session: %v", err)
	}
}

// Sign-in throttling is the use case's: failures per account and
// address, failures per account from every address, attempts per address.
func TestSignInIsThrottled(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{SignIn: commands.SignInLimits{
		PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour},
		PerAccount:        commands.Rate{Burst: 5, Every: time.Hour},
		PerAddress:        commands.Rate{Burst: 8, Every: time.Hour},
	}})
	hs.givenUser("linus")
	attempt := func(ip, pw string) string {
		m := meta()
		m.ClientIP = ip
		_, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "linus", Password: pw}, m)
		var te *commands.ThrottledError
		switch {
		case err == nil:
			return "in"
		case errors.As(err, &te):
			if te.RetryAfter <= 0 {
				t.Fatalf("no retry-after: %+v", te)
			}
			return te.Scope
		case errors.Is(err, commands.ErrInvalidCredentials):
			return "wrong"
		}
		t.Fatal(err)
		return ""
	}
	var got []string
	for range 4 {
		got = append(got, attempt("192.0.2.1", "wrong7horse"))
	}
	got = append(got, attempt("192.0.2.1", "correct7horse")) // even the owner, from there
	got = append(got, attempt("192.0.2.2", "correct7horse")) // the owner elsewhere
	got = append(got, attempt("192.0.2.2", "wrong7horse"), attempt("192.0.2.3", "wrong7horse"))
	got = append(got, attempt("192.0.2.4", "correct7horse")) // five failures: the account's ceiling
	want := []string{"wrong", "wrong", "wrong", commands.ScopeAccountAddress, commands.ScopeAccountAddress, "in", "wrong", "wrong", commands.ScopeAccount}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// An address making attempts on many accounts runs out on its own.
	for i := range 3 {
		attempt("192.0.2.1", fmt.Sprint("x", i))
	}
	if s := attempt("192.0.2.1", "x"); s != commands.ScopeAddress {
		t.Fatalf("busy address: %s", s)
	}
}

// An address out of attempts is told the longest wait: the account's
// block outlasts the address's refill, and retrying sooner meets it.
func TestThrottledSaysTheLongestWait(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{SignIn: commands.SignInLimits{
		PerAccountAddress: commands.Rate{Burst: 1, Every: time.Hour},
		PerAccount:        commands.Rate{Burst: 100, Every: time.Hour},
		PerAddress:        commands.Rate{Burst: 2, Every: time.Second},
	}})
	hs.givenUser("linus")
	var last error
	for range 3 {
		_, last = hs.h.SignIn(hs.ctx, commands.SignIn{Username: "linus", Password: "wrong7horse"}, meta())
	}
	var te *commands.ThrottledError
	if !errors.As(last, &te) || te.Scope != commands.ScopeAddress || te.RetryAfter < 50*time.Minute {
		t.Fatalf("third attempt: %v", last)
	}
}

func TestRegistrationIsLimitedPerAddress(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{RegistrationLimit: commands.Rate{Burst: 2, Every: time.Hour}})
	for i, want := range []bool{true, true, false} {
		_, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: fmt.Sprint("user", i), Password: "correct7horse"}, meta())
		var te *commands.ThrottledError
		if ok := err == nil; ok != want || (!want && (!errors.As(err, &te) || te.Scope != commands.ScopeRegistration)) {
			t.Fatalf("registration %d: %v", i, err)
		}
	}
	if got := types(hs.then(events.UsernameStream("user2"), commands.NoStream)); len(got) != 0 {
		t.Fatalf("a refused registration claimed its name: %v", got)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]commands.Rate{"20/10m": {Burst: 20, Every: 30 * time.Second}, "1000/1m": {Burst: 1000, Every: 60 * time.Millisecond}} {
		if got, err := commands.ParseRate(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "20", "0/1m", "-1/1m", "x/1m", "5/", "5/0s", "5/-1m"} {
		if _, err := commands.ParseRate(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFoldUserIsPure(t *testing.T) {
	recs := []events.Recorded{
		{Payload: events.UserRegisteredV1{UserID: "u1", Username: "ada", PasswordHash: "h", Profile: events.Profile{"email": "a@b.co"}}},
		{Payload: events.UserRenamedV1{UserID: "u1", OldUsername: "ada", NewUsername: "grace"}},
		{Payload: events.UserProfileUpdatedV1{UserID: "u1", Profile: events.Profile{"full_name": "G", "email": ""}}},
		{Payload: events.SessionEndedV1{}}, // another aggregate's event changes nothing
	}
	var u commands.User
	for _, e := range recs {
		u = commands.FoldUser(u, e)
	}
	want := commands.User{ID: "u1", Username: "grace", PasswordHash: "h", Profile: events.Profile{"email": "", "full_name": "G"}}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("got %+v, want %+v", u, want)
	}
	// Folding again from the start gives the same state: nothing is shared.
	var again commands.User
	for _, e := range recs {
		again = commands.FoldUser(again, e)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("second fold %+v", again)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
