package commands_test

import (
	"slices"
	"testing"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/principals"
)

// With the credential index as the directory (it is told of the password
// change before the sessions are ended), every other session gets its own
// session.ended, and the result's position covers them.
func TestChangePasswordEndsEachOtherSession(t *testing.T) {
	index := principals.New(nil, nil)
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Directory: index, Observers: []commands.Observer{index}})
	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	id := reg.User.ID
	var sessions []string
	for range 5 {
		in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta())
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, in.SessionID)
	}
	kept := sessions[0]
	res, err := hs.h.ChangePassword(hs.ctx, commands.ChangePassword{UserID: id, SessionID: kept, Current: "correct7horse", New: "battery9staple", Confirm: "battery9staple"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, s := range sessions {
		got := hs.then(events.SessionStream(s), commands.NoStream)
		want := []string{events.SessionStarted, events.SessionEnded}
		if s == kept {
			want = want[:1]
		}
		if !slices.Equal(types(got), want) {
			t.Fatalf("session %s: %v, want %v", s, types(got), want)
		}
		if s == kept {
			continue
		}
		if ended := got[1].Payload.(events.SessionEndedV1); ended.Reason != events.SessionPasswordChanged || ended.UserID != id {
			t.Errorf("ended %+v", ended)
		}
		last = max(last, got[1].Position)
	}
	if res.Position != last {
		t.Errorf("result at position %d, the last session.ended at %d", res.Position, last)
	}
	if got := index.SessionsOf(id); !slices.Equal(got, []string{kept}) {
		t.Errorf("the index still lists %v", got)
	}
	// Nothing is left for the repair job; ending the others ends none.
	if got := index.Unended(hs.now.Add(1e12)); len(got) != 0 {
		t.Errorf("unended %+v", got)
	}
	if _, err := hs.h.EndOtherSessions(hs.ctx, commands.EndOtherSessions{UserID: id, KeepSessionID: kept}, meta()); err != nil {
		t.Fatal(err)
	}
	if got := types(hs.then(events.SessionStream(sessions[1]), commands.NoStream)); len(got) != 2 {
		t.Errorf("an ended session ended again: %v", got)
	}
}

// A session its account ended but that has no session.ended (the process
// stopped half way) is finished with the reason it is due; twice changes
// nothing.
func TestFinishSessionEnd(t *testing.T) {
	index := principals.New(nil, nil)
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Directory: index, Observers: []commands.Observer{index}})
	reg, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	// The password change is recorded, and the process stops before ending
	// the sessions.
	hs.given(events.UserStream(reg.User.ID), hs.now, events.UserPasswordChangedV1{UserID: reg.User.ID, PasswordHash: "h"})
	recs := hs.then(events.UserStream(reg.User.ID), commands.NoStream)
	index.Observe(recs[len(recs)-1:])
	unended := index.Unended(hs.now.Add(1e12))
	if len(unended) != 1 || unended[0].SessionID != in.SessionID || unended[0].Reason != events.SessionPasswordChanged {
		t.Fatalf("unended %+v", unended)
	}
	for range 2 {
		if _, err := hs.h.FinishSessionEnd(hs.ctx, unended[0].UserID, unended[0].SessionID, unended[0].Reason, meta()); err != nil {
			t.Fatal(err)
		}
	}
	got := hs.then(events.SessionStream(in.SessionID), commands.NoStream)
	if !slices.Equal(types(got), []string{events.SessionStarted, events.SessionEnded}) || got[1].Payload.(events.SessionEndedV1).Reason != events.SessionPasswordChanged {
		t.Fatalf("session stream %v", types(got))
	}
	if got := index.Unended(hs.now.Add(1e12)); len(got) != 0 {
		t.Fatalf("still unended %+v", got)
	}
}
