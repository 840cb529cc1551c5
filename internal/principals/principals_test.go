package principals_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/internal/tokens"
)

func rec(stream string, revision uint64, p events.Payload) events.Recorded {
	return events.Recorded{Stream: stream, Revision: revision, Type: p.EventType(), Payload: p}
}

func s(v string) *string { return &v }

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	index := principals.New(func() time.Time { return now }, nil)
	secret := "s3cret"
	const sid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	index.Observe([]events.Recorded{
		rec(events.UserStream("u1"), 0, events.UserRegisteredV1{UserID: "u1", Username: "ada", Profile: events.Profile{"preferred_language": "tr"}}),
		rec(events.SessionStream(sid), 0, events.SessionStartedV1{SessionID: sid, UserID: "u1", TokenDigest: tokens.Digest(secret), ExpiresAt: now.Add(time.Hour)}),
	})
	good := "acs_6ba7b8109dad11d180b400c04fd430c8_" + secret
	tests := []struct {
		name, token string
		ok          bool
	}{
		{"valid", good, true},
		{"wrong secret", strings.TrimSuffix(good, "t") + "x", false},
		{"unknown session", "acs_00000000000000000000000000000000_" + secret, false},
		{"no prefix", strings.TrimPrefix(good, "acs_"), false},
		{"garbage", "Bearer", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		p, err := index.Authenticate(tt.token, "192.0.2.1")
		if ok := err == nil; ok != tt.ok || (ok && (p.UserID != "u1" || p.Username != "ada" || p.Language != "tr" || p.Credential.ID != sid)) {
			t.Errorf("%s: %v %+v", tt.name, err, p)
		}
	}
	now = now.Add(time.Hour)
	if _, err := index.Authenticate(good, ""); err == nil {
		t.Fatal("expired session accepted")
	}
}

// Events told directly and read from the log arrive in either order and
// twice; the account ends as the log says, and a direct event that skips
// one written elsewhere does not hide it.
func TestAccountsApplyEachRevisionOnce(t *testing.T) {
	index := principals.New(nil, nil)
	const sid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	stream := events.UserStream("u1")
	registered := rec(stream, 0, events.UserRegisteredV1{UserID: "u1", Username: "ada"})
	elsewhere := rec(stream, 1, events.UserProfileUpdatedV1{Profile: events.Profile{"preferred_language": "tr"}})
	here := rec(stream, 2, events.UserProfileUpdatedV1{Profile: events.Profile{"preferred_timezone": "Asia/Tokyo"}})
	index.Observe([]events.Recorded{registered, rec(events.SessionStream(sid), 0, events.SessionStartedV1{SessionID: sid, UserID: "u1", TokenDigest: tokens.Digest("x"), ExpiresAt: time.Now().Add(time.Hour)})})
	index.Observe([]events.Recorded{here}) // skips revision 1: waits for the log
	follow := principals.Feed(index)
	for _, r := range []events.Recorded{registered, elsewhere, here, elsewhere} {
		follow(r)
	}
	p, err := index.Authenticate("acs_6ba7b8109dad11d180b400c04fd430c8_x", "")
	if err != nil || p.Language != "tr" || p.Timezone != "Asia/Tokyo" || p.Revision != 2 {
		t.Fatalf("%v %+v", err, p)
	}
}

// A new index replays the log: started sessions work, ended ones do not,
// and sign-ins elsewhere arrive live.
func TestFollowRebuildsFromTheLog(t *testing.T) {
	_, client := testenv.EventStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := commands.New(commands.Config{Log: eventlog.New(client), PasswordParams: password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	meta := events.Metadata{CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1"}
	if _, err := h.RegisterUser(ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse", Profile: commands.ProfileChange{"preferred_timezone": "Europe/Istanbul"}}, meta); err != nil {
		t.Fatal(err)
	}
	kept, err := h.SignIn(ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	ended, err := h.SignIn(ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.SignOut(ctx, commands.SignOut{UserID: ended.UserID, SessionID: ended.SessionID}, meta); err != nil {
		t.Fatal(err)
	}

	index := principals.New(nil, nil)
	followCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- index.Follow(followCtx, client) }()
	<-index.CaughtUp()
	if p, err := index.Authenticate(kept.Token, ""); err != nil || p.UserID != kept.UserID || p.Timezone != "Europe/Istanbul" {
		t.Fatalf("replayed session not accepted: %v %+v", err, p)
	}
	if _, err := index.Authenticate(ended.Token, ""); err == nil || errors.Is(err, principals.ErrUnknown) {
		t.Fatalf("ended session after replay: %v, want refused as known", err)
	}
	if pos, _ := index.Position(); pos == 0 {
		t.Fatal("no position after catching up")
	}
	other, err := h.SignIn(ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	// Unknown until the index has read as far as the log's head; waiting
	// for that position is woken by the index's progress.
	head, _, err := eventlog.Head(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := index.WaitPosition(waitCtx, head); err != nil {
		t.Fatalf("the index never reached the head: %v", err)
	}
	if _, err := index.Authenticate(other.Token, ""); err != nil {
		t.Fatalf("live session once the index reached the head: %v", err)
	}
	if _, err := index.Authenticate("acs_00000000000000000000000000000000_x", ""); !errors.Is(err, principals.ErrUnknown) || !errors.Is(err, principals.ErrUnauthenticated) {
		t.Fatalf("a session nobody issued: %v, want unknown (and unauthenticated)", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
