package commands_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
)

// shredder records the data keys destroyed.
type shredder struct {
	mu        sync.Mutex
	destroyed []string
}

func (s *shredder) Destroy(_ context.Context, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroyed = append(s.destroyed, owner)
	return nil
}

func asAdmin(id string) events.Metadata {
	m := meta()
	m.Actor = id
	return m
}

func TestAdminDecisions(t *testing.T) {
	locked, unlocked := true, false
	for _, tt := range []struct {
		name  string
		given []events.Payload // after registration
		when  func(h *commands.Handlers, ctx context.Context, id string) error
		then  []string
		err   error
	}{
		{"disable", nil, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.DisableUser(ctx, commands.DisableUser{UserID: id}, asAdmin("admin"))
			return err
		}, []string{events.UserDisabled}, nil},
		{"disable twice writes once", []events.Payload{events.UserDisabledV1{}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.DisableUser(ctx, commands.DisableUser{UserID: id}, asAdmin("admin"))
			return err
		}, nil, nil},
		{"an admin cannot disable themselves", nil, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.DisableUser(ctx, commands.DisableUser{UserID: id}, asAdmin(id))
			return err
		}, nil, commands.ErrDisableSelf},
		{"enable a disabled account", []events.Payload{events.UserDisabledV1{}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.EnableUser(ctx, commands.EnableUser{UserID: id}, asAdmin("admin"))
			return err
		}, []string{events.UserEnabled}, nil},
		{"admin fields: only what changes", []events.Payload{events.UserAdminFieldsUpdatedV1{Department: ptr("R&D")}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.UpdateAdminFields(ctx, commands.UpdateAdminFields{UserID: id, Department: ptr("R&D"), DisplayNameLocked: &locked}, asAdmin("admin"))
			return err
		}, []string{events.UserAdminFieldsUpdated}, nil},
		{"a locked name is not the user's to change", []events.Payload{events.UserAdminFieldsUpdatedV1{DisplayNameLocked: &locked}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "New"}}, meta())
			return err
		}, nil, commands.ErrFieldLocked},
		{"an admin may change a locked name", []events.Payload{events.UserAdminFieldsUpdatedV1{DisplayNameLocked: &locked}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, ByAdmin: true, Change: commands.ProfileChange{"full_name": "New"}}, asAdmin("admin"))
			return err
		}, []string{events.UserProfileUpdated}, nil},
		{"an unlocked name is the user's again", []events.Payload{events.UserAdminFieldsUpdatedV1{DisplayNameLocked: &locked}, events.UserAdminFieldsUpdatedV1{DisplayNameLocked: &unlocked}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "New"}}, meta())
			return err
		}, []string{events.UserProfileUpdated}, nil},
		{"grant a role", nil, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.GrantRole(ctx, commands.GrantRole{UserID: id, Role: events.RoleAdmin}, asAdmin("admin"))
			return err
		}, []string{events.UserRoleGranted}, nil},
		{"an unknown role", nil, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.GrantRole(ctx, commands.GrantRole{UserID: id, Role: "owner"}, asAdmin("admin"))
			return err
		}, nil, commands.ErrUnknownRole},
		{"the last admin keeps their own role", []events.Payload{events.UserRoleGrantedV1{Role: events.RoleAdmin}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id, Role: events.RoleAdmin}, asAdmin(id))
			return err
		}, nil, commands.ErrLastAdmin},
		{"another admin revokes it", []events.Payload{events.UserRoleGrantedV1{Role: events.RoleAdmin}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.RevokeRole(ctx, commands.RevokeRole{UserID: id, Role: events.RoleAdmin}, asAdmin("admin"))
			return err
		}, []string{events.UserRoleRevoked}, nil},
		{"a deleted account is gone for commands", []events.Payload{events.UserDeletedV1{}}, func(h *commands.Handlers, ctx context.Context, id string) error {
			_, err := h.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, ByAdmin: true, Change: commands.ProfileChange{"full_name": "New"}}, asAdmin("admin"))
			return err
		}, nil, commands.ErrUserNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs, _ := newCredentialHarness(t)
			id := hs.givenUser("ada")
			for _, p := range tt.given {
				hs.given(events.UserStream(id), hs.now.Add(-time.Minute), p)
			}
			before := len(hs.then(events.UserStream(id), commands.NoStream))
			err := tt.when(hs.h, hs.ctx, id)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if got := types(hs.then(events.UserStream(id), commands.NoStream)[before:]); !slices.Equal(got, tt.then) {
				t.Fatalf("new events %v, want %v", got, tt.then)
			}
		})
	}
}

func TestDisabledAccountCannotSignIn(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	id := hs.givenUser("ada")
	hs.given(events.UserStream(id), hs.now, events.UserDisabledV1{UserID: id})
	if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta()); !errors.Is(err, commands.ErrAccountDisabled) {
		t.Fatalf("sign-in: %v", err)
	}
	// A wrong password says nothing of the account's state.
	if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "wrong7horse"}, meta()); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
}

// Disabling ends every session of the account for good; enabling it
// again brings none back.
func TestDisableEndsSessions(t *testing.T) {
	dir := &directory{tokens: map[string][2]string{}, sessions: map[string][]string{}, admins: map[string]bool{}}
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Directory: dir, Observers: []commands.Observer{dir}, Keys: &shredder{}})
	id := hs.givenUser("ada")
	var sessions []string
	for range 2 {
		in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta())
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, in.SessionID)
	}
	if _, err := hs.h.DisableUser(hs.ctx, commands.DisableUser{UserID: id}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.EnableUser(hs.ctx, commands.EnableUser{UserID: id}, meta()); err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		got := hs.then(events.SessionStream(s), commands.NoStream)
		if !slices.Equal(types(got), []string{events.SessionStarted, events.SessionEnded}) {
			t.Fatalf("session %s: %v", s, types(got))
		}
		if ended := got[1].Payload.(events.SessionEndedV1); ended.Reason != commands.ReasonAccountDisabled {
			t.Errorf("ended for %q", ended.Reason)
		}
	}
	if got := types(hs.then(events.UserStream(id), commands.NoStream)); !slices.Equal(got, []string{events.UserRegistered, events.UserDisabled, events.UserEnabled}) {
		t.Errorf("user stream %v", got)
	}
}

func TestDeleteUser(t *testing.T) {
	keys := &shredder{}
	dir := &directory{tokens: map[string][2]string{}, sessions: map[string][]string{}, admins: map[string]bool{}}
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Directory: dir, Observers: []commands.Observer{dir}, Keys: keys})
	id := hs.givenUser("ada")
	in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: id, Spec: spec("profile:read")}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.CreateCredential(hs.ctx, commands.CreateCredential{UserID: id, Spec: commands.CredentialSpec{
		Service: ptr("git"), URL: ptr("https://git.example.com"), Secret: ptr("s")}}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.DeleteUser(hs.ctx, commands.DeleteUser{UserID: id, CurrentPassword: "wrong7horse"}, meta()); !errors.Is(err, commands.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := hs.h.DeleteUser(hs.ctx, commands.DeleteUser{UserID: id, CurrentPassword: "correct7horse"}, meta()); err != nil {
		t.Fatal(err)
	}
	for stream, want := range map[string][]string{
		events.UserStream(id):              {events.UserRegistered, events.UserDeleted},
		events.UsernameStream("ada"):       {events.UsernameClaimed, events.UsernameReleased},
		events.SessionStream(in.SessionID): {events.SessionStarted, events.SessionEnded},
		events.TokensStream(id):            {events.TokenCreated, events.TokenDeleted},
		events.CredentialsStream(id):       {events.CredentialCreated, events.CredentialDeleted},
	} {
		if got := types(hs.then(stream, commands.NoStream)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", stream, got, want)
		}
	}
	if !slices.Equal(keys.destroyed, []string{id}) {
		t.Fatalf("keys destroyed %v", keys.destroyed)
	}
	// Deleted twice: the account is gone.
	if _, err := hs.h.DeleteUser(hs.ctx, commands.DeleteUser{UserID: id, ByAdmin: true}, meta()); !errors.Is(err, commands.ErrUserNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Finishing the erasure again changes nothing.
	if _, err := hs.h.EraseDeleted(hs.ctx, id, "ada", meta()); err != nil {
		t.Fatal(err)
	}
	if got := types(hs.then(events.CredentialsStream(id), commands.NoStream)); len(got) != 2 {
		t.Fatalf("erased again: %v", got)
	}
}

func TestServiceCredentialCommands(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	id := hs.givenUser("ada")
	at := hs.now.Add(24 * time.Hour)
	c, err := hs.h.CreateCredential(hs.ctx, commands.CreateCredential{UserID: id, Spec: commands.CredentialSpec{
		Service: ptr("git"), URL: ptr("https://git.example.com"), Username: ptr("ada"), Secret: ptr("s1"), ExpiresAt: &at}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	cid := c.Credential.ID
	for _, tt := range []struct {
		name string
		spec commands.CredentialSpec
		then []string
	}{
		{"nothing changes", commands.CredentialSpec{Service: ptr("git"), Secret: ptr("s1")}, nil},
		{"a new secret", commands.CredentialSpec{Secret: ptr("s2")}, []string{events.CredentialUpdated}},
		{"no expiry", commands.CredentialSpec{ClearExpiry: true}, []string{events.CredentialUpdated}},
		{"no expiry again", commands.CredentialSpec{ClearExpiry: true}, nil},
	} {
		before := len(hs.then(events.CredentialsStream(id), commands.NoStream))
		if _, err := hs.h.UpdateCredential(hs.ctx, commands.UpdateCredential{UserID: id, CredentialID: cid, Spec: tt.spec}, meta()); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := types(hs.then(events.CredentialsStream(id), commands.NoStream)[before:]); !slices.Equal(got, tt.then) {
			t.Fatalf("%s: %v, want %v", tt.name, got, tt.then)
		}
	}
	if _, err := hs.h.RevealCredential(hs.ctx, commands.RevealCredential{UserID: id, CredentialID: cid, CurrentPassword: "nope"}, meta()); !errors.Is(err, commands.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	rev, err := hs.h.RevealCredential(hs.ctx, commands.RevealCredential{UserID: id, CredentialID: cid, CurrentPassword: "correct7horse"}, meta())
	if err != nil || rev.Secret != "s2" {
		t.Fatalf("reveal %+v %v", rev, err)
	}
	if _, err := hs.h.RevealCredential(hs.ctx, commands.RevealCredential{UserID: id, CredentialID: "other", CurrentPassword: "correct7horse"}, meta()); !errors.Is(err, commands.ErrCredentialNotFound) {
		t.Fatalf("unknown credential: %v", err)
	}
	if _, err := hs.h.DeleteCredential(hs.ctx, commands.DeleteCredential{UserID: id, CredentialID: cid}, meta()); err != nil {
		t.Fatal(err)
	}
	want := []string{events.CredentialCreated, events.CredentialUpdated, events.CredentialUpdated, events.CredentialRevealed, events.CredentialDeleted}
	if got := types(hs.then(events.CredentialsStream(id), commands.NoStream)); !slices.Equal(got, want) {
		t.Fatalf("stream %v", got)
	}
}
