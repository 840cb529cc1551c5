package commands_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
)

func TestParseConfiguredAdmin(t *testing.T) {
	const id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	for _, tt := range []struct {
		name, in string
		want     commands.ConfiguredAdmin
		err      string
	}{
		{"a username, in any case, trimmed", " Margaret ", commands.ConfiguredAdmin{Username: "margaret"}, ""},
		{"an id", "id:" + strings.ToUpper(id), commands.ConfiguredAdmin{UserID: id}, ""},
		{"a bare uuid is an id, as before", id, commands.ConfiguredAdmin{UserID: id}, ""},
		{"id: of no uuid", "id:margaret", commands.ConfiguredAdmin{}, "not an account id"},
		{"a uuid without dashes is no id", "id:6ba7b8109dad11d180b400c04fd430c8", commands.ConfiguredAdmin{}, "not an account id"},
		{"no username either", "9 lives", commands.ConfiguredAdmin{}, "not a username"},
		{"a reserved name nobody can register", "admin", commands.ConfiguredAdmin{}, "username.reserved"},
		{"empty", "", commands.ConfiguredAdmin{}, "not a username"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.ParseConfiguredAdmin(tt.in)
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("err %v, want %q", err, tt.err)
			case got != tt.want:
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	got, err := commands.ParseConfiguredAdmins([]string{"margaret", "MARGARET", "id:" + id, id})
	if err != nil || len(got) != 2 {
		t.Fatalf("duplicates: %v %v", got, err)
	}
	if _, err := commands.ParseConfiguredAdmins([]string{"a b", "margaret", "id:x"}); err == nil || strings.Count(err.Error(), "admin \"") != 2 {
		t.Fatalf("every bad value is reported: %v", err)
	}
}

func configured(t *testing.T, values ...string) []commands.ConfiguredAdmin {
	t.Helper()
	admins, err := commands.ParseConfiguredAdmins(values)
	if err != nil {
		t.Fatal(err)
	}
	return admins
}

// grants are the configuration's grants a user stream holds.
func grants(evs []events.Recorded) []string {
	var out []string
	for _, e := range evs {
		if g, ok := e.Payload.(events.UserRoleGrantedV1); ok {
			out = append(out, g.Source+":"+g.ConfiguredAs)
		}
	}
	return out
}

// The attack, in commands: the configured name makes its first
// holder admin; the role follows that account through a rename, and the
// next holder of the name is nobody special.
func TestConfiguredAdminIsAnAccountNotAName(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{ConfiguredAdmins: configured(t, "margaret")})
	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "Margaret", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	margaret := reg.User.ID
	user := hs.then(events.UserStream(margaret), commands.NoStream)
	if got := types(user); !slices.Equal(got, []string{events.UserRegistered, events.UserRoleGranted}) {
		t.Fatalf("user stream %v", got)
	}
	if g := user[1]; g.Metadata.Actor != events.ActorSystem || !slices.Equal(grants(user), []string{"configuration:margaret"}) {
		t.Fatalf("grant %+v by %s", g.Payload, g.Metadata.Actor)
	}
	if !reg.User.HasRole(events.RoleAdmin) || reg.Revision != 1 || reg.Position != user[1].Position {
		t.Fatalf("the registration's result does not include the grant: %+v", reg)
	}
	ledger := hs.then(events.ConfiguredAdminsStream, commands.NoStream)
	if len(ledger) != 1 || ledger[0].Payload != (events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: margaret}) {
		t.Fatalf("ledger %+v", ledger)
	}

	renamed, err := hs.h.RenameUser(hs.ctx, commands.RenameUser{UserID: margaret, NewUsername: "maggie"}, meta())
	if err != nil || !renamed.User.HasRole(events.RoleAdmin) {
		t.Fatalf("after the rename: %+v %v", renamed.User, err)
	}
	other, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "margaret", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if got := types(hs.then(events.UserStream(other.User.ID), commands.NoStream)); !slices.Equal(got, []string{events.UserRegistered}) || other.User.HasRole(events.RoleAdmin) {
		t.Fatalf("the name's next holder: %v", got)
	}
	// Nor does any later pass (a restart) change that.
	if waiting, err := hs.h.GrantConfiguredAdmins(hs.ctx, meta()); err != nil || len(waiting) != 0 {
		t.Fatalf("pass: %v %v", waiting, err)
	}
	if n := len(hs.then(events.ConfiguredAdminsStream, commands.NoStream)); n != 1 {
		t.Fatalf("%d resolutions", n)
	}
	if got := grants(hs.then(events.UserStream(other.User.ID), commands.NoStream)); len(got) != 0 {
		t.Fatalf("the next holder was granted %v", got)
	}
}

// What a pass (at start, or the background's) records, given the log.
func TestGrantConfiguredAdmins(t *testing.T) {
	for _, tt := range []struct {
		name string
		// given sets up the log and returns the configured values, and the
		// user streams to look at by name.
		given       func(hs *harness) ([]string, map[string]string)
		wantGrants  map[string][]string // per user: the configuration's grants after the pass
		wantLedger  int                 // resolutions in the log after the pass
		wantWaiting []string
	}{
		{"a name held at start is granted", func(hs *harness) ([]string, map[string]string) {
			return []string{"margaret"}, map[string]string{"margaret": hs.givenUser("Margaret")}
		}, map[string][]string{"margaret": {"configuration:margaret"}}, 1, nil},
		{"a name nobody holds waits", func(hs *harness) ([]string, map[string]string) {
			return []string{"margaret"}, map[string]string{"ada": hs.givenUser("ada")}
		}, map[string][]string{"ada": nil}, 0, []string{"margaret"}},
		{"resolved already: the name's holder today gets nothing", func(hs *harness) ([]string, map[string]string) {
			first := hs.givenUser("maggie")
			hs.given(events.UserStream(first), hs.now, events.UserRoleGrantedV1{UserID: first, Role: events.RoleAdmin, Source: events.RoleSourceConfiguration, ConfiguredAs: "margaret"})
			hs.given(events.ConfiguredAdminsStream, hs.now, events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: first})
			return []string{"margaret"}, map[string]string{"first": first, "today": hs.givenUser("margaret")}
		}, map[string][]string{"first": {"configuration:margaret"}, "today": nil}, 1, nil},
		{"resolved, then the process stopped: the grant follows to the account resolved", func(hs *harness) ([]string, map[string]string) {
			first := hs.givenUser("maggie")
			hs.given(events.ConfiguredAdminsStream, hs.now, events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: first})
			return []string{"margaret"}, map[string]string{"first": first, "today": hs.givenUser("margaret")}
		}, map[string][]string{"first": {"configuration:margaret"}, "today": nil}, 1, nil},
		{"resolved to an account deleted since: nobody", func(hs *harness) ([]string, map[string]string) {
			gone := hs.givenUser("gone")
			hs.given(events.UserStream(gone), hs.now, events.UserDeletedV1{UserID: gone, Username: "gone"})
			hs.given(events.ConfiguredAdminsStream, hs.now, events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: gone})
			return []string{"margaret"}, map[string]string{"today": hs.givenUser("margaret")}
		}, map[string][]string{"today": nil}, 1, nil},
		{"revoked since: the configuration does not give it back", func(hs *harness) ([]string, map[string]string) {
			id := hs.givenUser("margaret")
			hs.given(events.UserStream(id), hs.now, events.UserRoleGrantedV1{UserID: id, Role: events.RoleAdmin, Source: events.RoleSourceConfiguration, ConfiguredAs: "margaret"},
				events.UserRoleRevokedV1{UserID: id, Role: events.RoleAdmin})
			hs.given(events.ConfiguredAdminsStream, hs.now, events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: id})
			return []string{"margaret"}, map[string]string{"margaret": id}
		}, map[string][]string{"margaret": {"configuration:margaret"}}, 1, nil},
		{"an admin already: the configuration's grant is recorded too", func(hs *harness) ([]string, map[string]string) {
			id := hs.givenUser("margaret")
			hs.given(events.UserStream(id), hs.now, events.UserRoleGrantedV1{UserID: id, Role: events.RoleAdmin})
			return []string{"margaret"}, map[string]string{"margaret": id}
		}, map[string][]string{"margaret": {":", "configuration:margaret"}}, 1, nil},
		{"an id is granted directly", func(hs *harness) ([]string, map[string]string) {
			id := hs.givenUser("grace")
			return []string{"id:" + id}, map[string]string{"grace": id}
		}, map[string][]string{"grace": {"configuration:id:GRACE"}}, 1, nil},
		{"an id of no account waits", func(hs *harness) ([]string, map[string]string) {
			return []string{"id:6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, nil
		}, nil, 0, []string{"id:6ba7b810-9dad-11d1-80b4-00c04fd430c8"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log := eventlog.NewMemory()
			setup := newHarnessOn(t, log, commands.Config{})
			values, users := tt.given(setup)
			hs := newHarnessOnShared(t, log, commands.Config{ConfiguredAdmins: configured(t, values...)})
			waiting, err := hs.h.GrantConfiguredAdmins(hs.ctx, meta())
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, c := range waiting {
				keys = append(keys, c.Key())
			}
			if !slices.Equal(keys, tt.wantWaiting) {
				t.Fatalf("waiting %v, want %v", keys, tt.wantWaiting)
			}
			for name, want := range tt.wantGrants {
				for i, w := range want {
					want[i] = strings.ReplaceAll(w, "GRACE", users["grace"])
				}
				if got := grants(hs.then(events.UserStream(users[name]), commands.NoStream)); !slices.Equal(got, want) {
					t.Errorf("%s: grants %v, want %v", name, got, want)
				}
			}
			if n := len(hs.then(events.ConfiguredAdminsStream, commands.NoStream)); n != tt.wantLedger {
				t.Errorf("%d resolutions, want %d", n, tt.wantLedger)
			}
			// A second pass changes nothing.
			before := len(hs.then(events.ConfiguredAdminsStream, commands.NoStream))
			if _, err := hs.h.GrantConfiguredAdmins(hs.ctx, meta()); err != nil {
				t.Fatal(err)
			}
			if after := len(hs.then(events.ConfiguredAdminsStream, commands.NoStream)); after != before {
				t.Errorf("a second pass resolved again: %d -> %d", before, after)
			}
		})
	}
}

// newHarnessOnShared is a second harness (a second replica) on a log a
// parallel harness set up; it does not call t.Parallel again.
func newHarnessOnShared(t *testing.T, log commands.EventLog, cfg commands.Config) *harness {
	t.Helper()
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

// Two replicas racing to settle one configured admin record it once.
func TestConfiguredAdminRaceRecordsOnce(t *testing.T) {
	log := eventlog.NewMemory()
	setup := newHarnessOn(t, log, commands.Config{})
	margaret := setup.givenUser("margaret")
	replicas := []*harness{
		newHarnessOnShared(t, log, commands.Config{ConfiguredAdmins: configured(t, "margaret")}),
		newHarnessOnShared(t, log, commands.Config{ConfiguredAdmins: configured(t, "Margaret")}),
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := replicas[i%2]
			if _, err := r.h.GrantConfiguredAdmins(r.ctx, meta()); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := len(setup.then(events.ConfiguredAdminsStream, commands.NoStream)); n != 1 {
		t.Fatalf("%d resolutions", n)
	}
	if got := grants(setup.then(events.UserStream(margaret), commands.NoStream)); !slices.Equal(got, []string{"configuration:margaret"}) {
		t.Fatalf("grants %v", got)
	}
}

// A replica that saw the name held by one account, but lost the race to
// record it to another replica that saw an earlier holder, grants the
// account the log recorded, not the one it saw.
func TestConfiguredAdminLostRaceFollowsTheLog(t *testing.T) {
	mem := eventlog.NewMemory()
	racing := &racingLog{EventLog: mem}
	hs := newHarnessOn(t, racing, commands.Config{ConfiguredAdmins: configured(t, "margaret")})
	first := hs.givenUser("maggie") // held margaret before, seen by the other replica
	today := hs.givenUser("margaret")
	racing.races, racing.tried = 1, 0
	racing.racer = func(ctx context.Context, stream string) {
		if stream != events.ConfiguredAdminsStream {
			t.Errorf("first append to %s", stream)
		}
		if _, err := mem.Append(ctx, stream, commands.AnyVersion, meta(), events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: first}); err != nil {
			t.Error(err)
		}
	}
	if _, err := hs.h.GrantConfiguredAdmins(hs.ctx, meta()); err != nil {
		t.Fatal(err)
	}
	if got := grants(hs.then(events.UserStream(first), commands.NoStream)); !slices.Equal(got, []string{"configuration:margaret"}) {
		t.Fatalf("the account recorded: %v", got)
	}
	if got := grants(hs.then(events.UserStream(today), commands.NoStream)); len(got) != 0 {
		t.Fatalf("the account seen: %v", got)
	}
	if n := len(hs.then(events.ConfiguredAdminsStream, commands.NoStream)); n != 1 {
		t.Fatalf("%d resolutions", n)
	}
}

// Had the grant at registration failed, the name still does not pass on
// unresolved: a rename away from it, or the account's deletion, settles it
// first, to the account that held it.
func TestConfiguredNameIsSettledBeforeItPassesOn(t *testing.T) {
	for _, tt := range []struct {
		name    string
		letGo   func(hs *harness, id string) error
		granted bool // the first holder holds the grant after
	}{
		{"renamed away", func(hs *harness, id string) error {
			_, err := hs.h.RenameUser(hs.ctx, commands.RenameUser{UserID: id, NewUsername: "maggie"}, meta())
			return err
		}, true},
		{"deleted", func(hs *harness, id string) error {
			_, err := hs.h.DeleteUser(hs.ctx, commands.DeleteUser{UserID: id, ByAdmin: true}, asAdmin("admin"))
			return err
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{ConfiguredAdmins: configured(t, "margaret")})
			first := hs.givenUser("margaret") // registered, but no grant recorded
			if err := tt.letGo(hs, first); err != nil {
				t.Fatal(err)
			}
			ledger := hs.then(events.ConfiguredAdminsStream, commands.NoStream)
			if len(ledger) != 1 || ledger[0].Payload.(events.ConfiguredAdminResolvedV1).UserID != first {
				t.Fatalf("ledger %+v", ledger)
			}
			if got := grants(hs.then(events.UserStream(first), commands.NoStream)); (len(got) == 1) != tt.granted {
				t.Fatalf("first holder's grants %v", got)
			}
			next, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "margaret", Password: "correct7horse"}, meta())
			if err != nil {
				t.Fatal(err)
			}
			if next.User.HasRole(events.RoleAdmin) || len(grants(hs.then(events.UserStream(next.User.ID), commands.NoStream))) != 0 {
				t.Fatal("the name's next holder is admin")
			}
		})
	}
}
