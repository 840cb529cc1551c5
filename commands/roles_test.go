package commands_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/testenv"
)

// The admin role's holders live in their own stream, role-admin; the last
// admin rule is decided there. Given past events (in account streams, the
// configured admins' stream and the role stream), when an admin grants,
// revokes or deletes, then the role stream holds these new events.
func TestRoleStreamDecisions(t *testing.T) {
	type ids struct{ ada, bob string }
	granted := func(source string) events.Payload {
		return events.UserRoleGrantedV1{Role: events.RoleAdmin, Source: source}
	}
	for _, tt := range []struct {
		name string
		// given: account streams of ada and bob (after registration), and
		// what the directory (the credential index) lists as admins.
		ada, bob   []events.Payload
		indexed    func(ids) []string
		configured bool // ada is the configured admin "ada", resolved in config-admins
		roleStream func(ids) []events.Payload
		when       func(h *commands.Handlers, ctx context.Context, id ids) error
		err        error
		then       func(ids) []events.Payload // new events of role-admin
	}{
		{name: "a grant opens the stream, which finds the holder just granted",
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.GrantRole(ctx, commands.GrantRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin("root"))
				return err
			},
			then: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada}}}
			}},
		{name: "holders granted before the stream existed are found, each confirmed on its own stream",
			ada: []events.Payload{granted("")}, bob: []events.Payload{granted(""), events.UserRoleRevokedV1{Role: events.RoleAdmin}},
			indexed: func(id ids) []string { return []string{id.ada, id.bob} }, // the index lags: bob lost it
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin(id.ada))
				return err
			},
			err: commands.ErrLastAdmin,
			then: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada}}}
			}},
		{name: "with another holder found, an admin gives up their own role",
			ada: []events.Payload{granted("")}, bob: []events.Payload{granted("")},
			indexed: func(id ids) []string { return []string{id.ada, id.bob} },
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin(id.ada))
				return err
			},
			then: func(id ids) []events.Payload {
				found := []string{id.ada, id.bob}
				slices.Sort(found)
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: found}, events.RoleRevokedV1{Role: events.RoleAdmin, UserID: id.ada}}
			}},
		{name: "a configured admin is found through the configured admins' stream",
			ada: []events.Payload{granted(events.RoleSourceConfiguration)}, configured: true,
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin("root"))
				return err
			},
			then: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada}}, events.RoleRevokedV1{Role: events.RoleAdmin, UserID: id.ada}}
			}},
		{name: "an open stream is not found again",
			ada: []events.Payload{granted("")}, bob: []events.Payload{granted("")},
			indexed: func(id ids) []string { return []string{id.ada, id.bob} },
			roleStream: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada}}}
			},
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin(id.ada))
				return err
			},
			err: commands.ErrLastAdmin},
		{name: "a listed holder whose own stream lost the role does not count",
			ada: []events.Payload{granted("")}, bob: []events.Payload{granted(""), events.UserRoleRevokedV1{Role: events.RoleAdmin}},
			roleStream: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada, id.bob}}}
			},
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin(id.ada))
				return err
			},
			err: commands.ErrLastAdmin},
		{name: "granting a holder again changes nothing",
			ada: []events.Payload{granted("")},
			roleStream: func(id ids) []events.Payload {
				return []events.Payload{events.RoleGrantedV1{Role: events.RoleAdmin, UserID: id.ada}}
			},
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.GrantRole(ctx, commands.GrantRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin("root"))
				return err
			}},
		{name: "a grant whose listing was lost is listed by the next grant",
			ada: []events.Payload{granted("")},
			roleStream: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{}}}
			},
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.GrantRole(ctx, commands.GrantRole{UserID: id.ada, Role: events.RoleAdmin}, asAdmin("root"))
				return err
			},
			then: func(id ids) []events.Payload {
				return []events.Payload{events.RoleGrantedV1{Role: events.RoleAdmin, UserID: id.ada}}
			}},
		{name: "a deleted holder leaves the role",
			ada: []events.Payload{granted("")}, bob: []events.Payload{granted("")},
			roleStream: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada, id.bob}}}
			},
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.DeleteUser(ctx, commands.DeleteUser{UserID: id.bob, ByAdmin: true}, asAdmin(id.ada))
				return err
			},
			then: func(id ids) []events.Payload {
				return []events.Payload{events.RoleRevokedV1{Role: events.RoleAdmin, UserID: id.bob, Reason: events.RoleLeftDeleted}}
			}},
		{name: "a revoked admin is off the list before their own stream says so",
			ada: []events.Payload{granted("")}, bob: []events.Payload{granted("")},
			roleStream: func(id ids) []events.Payload {
				return []events.Payload{events.RoleHoldersFoundV1{Role: events.RoleAdmin, UserIDs: []string{id.ada, id.bob}}}
			},
			when: func(h *commands.Handlers, ctx context.Context, id ids) error {
				_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id.bob, Role: events.RoleAdmin}, asAdmin(id.ada))
				return err
			},
			then: func(id ids) []events.Payload {
				return []events.Payload{events.RoleRevokedV1{Role: events.RoleAdmin, UserID: id.bob}}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := &directory{tokens: map[string][2]string{}, sessions: map[string][]string{}, admins: map[string]bool{}}
			cfg := commands.Config{Directory: dir, Observers: []commands.Observer{dir}, Keys: &shredder{}}
			if tt.configured {
				cfg.ConfiguredAdmins = []commands.ConfiguredAdmin{{Username: "ada"}}
			}
			hs := newHarnessOn(t, eventlog.NewMemory(), cfg)
			id := ids{ada: hs.givenUser("ada"), bob: hs.givenUser("bob")}
			for stream, ps := range map[string][]events.Payload{events.UserStream(id.ada): tt.ada, events.UserStream(id.bob): tt.bob} {
				for _, p := range ps {
					hs.given(stream, hs.now.Add(-time.Minute), p)
				}
			}
			if tt.configured {
				hs.given(events.ConfiguredAdminsStream, hs.now.Add(-time.Minute), events.ConfiguredAdminResolvedV1{ConfiguredAs: "ada", UserID: id.ada})
			}
			if tt.indexed != nil {
				for _, a := range tt.indexed(id) {
					dir.admins[a] = true
				}
			}
			stream := events.RoleStream(events.RoleAdmin)
			if tt.roleStream != nil {
				hs.given(stream, hs.now.Add(-time.Minute), tt.roleStream(id)...)
			}
			before := len(hs.then(stream, commands.NoStream))
			if err := tt.when(hs.h, hs.ctx, id); !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			var got, want []events.Payload
			for _, r := range hs.then(stream, commands.NoStream)[before:] {
				got = append(got, r.Payload)
			}
			if tt.then != nil {
				want = tt.then(id)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("role stream: new events %#v, want %#v", got, want)
			}
		})
	}
}

// Two admins, each on their own replica, give up their admin role at the
// same moment: exactly one succeeds, the other is the last admin.
func TestLastAdminRaceOnTheEventStore(t *testing.T) {
	_, client := testenv.EventStore(t)
	log := eventlog.New(client)
	// The directory lists every admin at once, as an index that has caught
	// up would: it cannot settle a race between replicas.
	dir := &directory{tokens: map[string][2]string{}, sessions: map[string][]string{}, admins: map[string]bool{}}
	hs := newHarnessOn(t, log, commands.Config{Directory: dir, Observers: []commands.Observer{dir}})
	replica, err := commands.New(commands.Config{Log: log, PasswordParams: cheapHashing, Directory: dir, Observers: []commands.Observer{dir}})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		a, b := hs.givenUser("a"+string(rune('a'+round))), hs.givenUser("b"+string(rune('a'+round)))
		for _, id := range []string{a, b} {
			if _, err := hs.h.GrantRole(hs.ctx, commands.GrantRole{UserID: id, Role: events.RoleAdmin}, asAdmin("root")); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, run := range []struct {
			h  *commands.Handlers
			id string
		}{{hs.h, a}, {replica, b}} {
			wg.Go(func() {
				<-start
				_, errs[i] = run.h.RevokeRole(hs.ctx, commands.RevokeRole{UserID: run.id, Role: events.RoleAdmin}, asAdmin(run.id))
			})
		}
		close(start)
		wg.Wait()
		won := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		lost := 1 - won
		if won < 0 || !errors.Is(errs[lost], commands.ErrLastAdmin) {
			t.Fatalf("round %d: revocations ended %v, want exactly one to succeed and the other refused as the last admin", round, errs)
		}
		// Someone else takes the survivor's role, for the next round.
		survivor := []string{a, b}[lost]
		if _, err := hs.h.RevokeRole(hs.ctx, commands.RevokeRole{UserID: survivor, Role: events.RoleAdmin}, asAdmin("root")); err != nil {
			t.Fatal(err)
		}
	}
}
