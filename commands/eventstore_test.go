package commands_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/testenv"
)

// A few journeys end to end against the embedded event store over gRPC;
// the rest run on the in-memory log, which passes the same contract.

func TestJourneyOnTheEventStore(t *testing.T) {
	_, client := testenv.EventStore(t)
	hs := newHarnessOn(t, eventlog.New(client), commands.Config{})
	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	id := reg.User.ID
	if _, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "Ada"}}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.RenameUser(hs.ctx, commands.RenameUser{UserID: id, NewUsername: "countess", IfMatch: ptr64(1)}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta()); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("old name signs in: %v", err)
	}
	in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "Countess", Password: "correct7horse"}, meta())
	if err != nil || in.UserID != id {
		t.Fatalf("sign in: %+v %v", in, err)
	}
	if got := types(hs.then(events.UserStream(id), commands.NoStream)); !slices.Equal(got, []string{events.UserRegistered, events.UserProfileUpdated, events.UserRenamed}) {
		t.Fatalf("user stream %v", got)
	}
	if got := types(hs.then(events.UsernameStream("ada"), commands.NoStream)); !slices.Equal(got, []string{events.UsernameClaimed, events.UsernameReleased}) {
		t.Fatalf("old name %v", got)
	}
}

func TestConcurrentRenamesOnTheEventStore(t *testing.T) {
	_, client := testenv.EventStore(t)
	concurrentRenames(newHarnessOn(t, eventlog.New(client), commands.Config{}))
}
