package sessions_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/sessions"
	"github.com/accountd/accountd/internal/testenv"
)

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	table := sessions.New(func() time.Time { return now })
	secret := "s3cret"
	table.Started(events.SessionStartedV1{SessionID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", UserID: "u1", TokenDigest: commands.TokenDigest(secret), ExpiresAt: now.Add(time.Hour)})
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
		p, ok := table.Authenticate(tt.token)
		if ok != tt.ok || (ok && p.UserID != "u1") {
			t.Errorf("%s: %v %+v", tt.name, ok, p)
		}
	}
	now = now.Add(time.Hour)
	if _, ok := table.Authenticate(good); ok {
		t.Fatal("expired session accepted")
	}
}

// A new table replays the log: started sessions work, ended ones do not.
func TestFollowRebuildsFromTheLog(t *testing.T) {
	_, client := testenv.EventStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := eventlog.New(client)
	h, err := commands.New(commands.Config{Log: log, PasswordParams: password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	meta := events.Metadata{CorrelationID: "c", CausationID: "c"}
	if _, err := h.RegisterUser(ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, meta); err != nil {
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

	table := sessions.New(nil)
	ready := make(chan struct{})
	followCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- table.Follow(followCtx, client, slog.New(slog.DiscardHandler), ready) }()
	<-ready
	if p, ok := table.Authenticate(kept.Token); !ok || p.UserID != kept.UserID {
		t.Fatal("replayed session not accepted")
	}
	if _, ok := table.Authenticate(ended.Token); ok {
		t.Fatal("ended session accepted after replay")
	}
	// Live: a sign-in elsewhere (another replica) reaches this table.
	other, err := h.SignIn(ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := table.Authenticate(other.Token); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("live session never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
