package notifier_test

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/notifier"
	"github.com/accountd/accountd/internal/testenv"
)

func ptr(s string) *string { return &s }

func meta(actor string) events.Metadata {
	return events.Metadata{Actor: actor, CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1"}
}

// kinds lists the notifications in a user's inbox, by kind (and e-mail
// recipient, when the notification is an e-mail only).
func kinds(t *testing.T, a *app.App, userID string) []string {
	t.Helper()
	recs, err := eventlog.Sealed{EventLog: eventlog.New(a.Platform.ESDB), Keys: a.Keys}.ReadStream(context.Background(), events.InboxStream(userID), commands.NoStream)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if p, ok := r.Payload.(events.NotificationRaisedV1); ok {
			k := p.Kind
			if !p.InApp {
				k += ">" + p.EmailTo
			}
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The subscriber raises what the events call for, and redelivering every
// event twice more raises nothing new.
func TestNotificationsOncePerCauseUnderRedelivery(t *testing.T) {
	a, _ := testenv.App(t, app.Config{}, "")
	ctx := context.Background()
	c := a.Commands
	reg, err := c.RegisterUser(ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse", Profile: events.Profile{"email": "ada@example.com"}}, meta(events.ActorAnonymous))
	if err != nil {
		t.Fatal(err)
	}
	id := reg.User.ID
	in, err := c.SignIn(ctx, commands.SignIn{Username: "ada", Password: "correct7horse"}, meta(events.ActorAnonymous))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangePassword(ctx, commands.ChangePassword{UserID: id, SessionID: in.SessionID, Current: "correct7horse", New: "battery7staple", Confirm: "battery7staple"}, meta(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RenameUser(ctx, commands.RenameUser{UserID: id, NewUsername: "countess"}, meta(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"email": "lovelace@example.com"}}, meta(id)); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: id, Spec: commands.TokenSpec{Title: "ci", Scopes: []string{"profile:read"}, ExpiresAt: time.Now().Add(90 * 24 * time.Hour), Enabled: true}}, meta(id))
	if err != nil {
		t.Fatal(err)
	}
	// The first address is the baseline; the second is new; the first again is not.
	for _, ip := range []string{"198.51.100.1", "203.0.113.9", "198.51.100.1"} {
		if err := c.NoteTokenUse(ctx, commands.NoteTokenUse{UserID: id, TokenID: tok.Token.ID, ClientIP: ip}, meta(id)); err != nil {
			t.Fatal(err)
		}
	}
	cred, err := c.CreateCredential(ctx, commands.CreateCredential{UserID: id, Spec: commands.CredentialSpec{Service: ptr("git"), URL: ptr("https://git.example.com"), Secret: ptr("s1")}}, meta(id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateCredential(ctx, commands.UpdateCredential{UserID: id, CredentialID: cred.Credential.ID, Spec: commands.CredentialSpec{Secret: ptr("s2")}}, meta(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableUser(ctx, commands.DisableUser{UserID: id}, meta("some-admin")); err != nil {
		t.Fatal(err)
	}
	want := []string{"account_disabled", "credential_changed", "email_changed", "email_changed>ada@example.com", "password_changed",
		"token_created", "token_new_address", "username_changed"}
	waitFor(t, "notifications raised", func() bool { return slices.Equal(kinds(t, a, id), want) })

	// Redeliver every event of the account's streams, twice.
	n := &notifier.Notifier{Commands: a.Commands, Keys: a.Keys}
	log := eventlog.New(a.Platform.ESDB)
	for range 2 {
		for _, stream := range []string{events.UserStream(id), events.TokensStream(id), events.CredentialsStream(id)} {
			recs, err := log.ReadStream(ctx, stream, commands.NoStream)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if err := n.Handle(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if got := kinds(t, a, id); !slices.Equal(got, want) {
		t.Fatalf("after redelivery %v, want %v", got, want)
	}
}

func TestExpiryReminders(t *testing.T) {
	a, _ := testenv.App(t, app.Config{ReminderEvery: time.Hour}, "")
	ctx := context.Background()
	c := a.Commands
	reg, err := c.RegisterUser(ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, meta(events.ActorAnonymous))
	if err != nil {
		t.Fatal(err)
	}
	id := reg.User.ID
	now := time.Now()
	if _, err := c.CreateToken(ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: id, Spec: commands.TokenSpec{Title: "deploy", Scopes: []string{"profile:read"}, ExpiresAt: now.Add(3 * 24 * time.Hour), Enabled: true}}, meta(id)); err != nil {
		t.Fatal(err)
	}
	at := now.Add(20 * 24 * time.Hour)
	if _, err := c.CreateCredential(ctx, commands.CreateCredential{UserID: id, Spec: commands.CredentialSpec{Service: ptr("git"), URL: ptr("https://git.example.com"), Secret: ptr("s"), ExpiresAt: &at}}, meta(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetNotificationPreferences(ctx, commands.SetNotificationPreferences{UserID: id, Preferences: commands.Preferences{LeadDays: []int{30, 7, 1}}}, meta(id)); err != nil {
		t.Fatal(err)
	}
	count := func(kind string) int {
		n := 0
		for _, k := range kinds(t, a, id) {
			if k == kind {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		at                  time.Time
		tokens, credentials int
	}{
		{now, 1, 1},                          // within 7 days (token) and 30 days (credential)
		{now.Add(time.Hour), 1, 1},           // nothing new
		{now.Add(50 * time.Hour), 2, 1},      // the token is within a day
		{now.Add(14 * 24 * time.Hour), 2, 2}, // the credential is within 7 days; the token has expired
	} {
		if err := notifier.Remind(ctx, c, a.Principals, step.at); err != nil {
			t.Fatal(err)
		}
		if got, gotC := count("token_expiring"), count("credential_expiring"); got != step.tokens || gotC != step.credentials {
			t.Fatalf("at +%s: %d token and %d credential reminders, want %d and %d", step.at.Sub(now), got, gotC, step.tokens, step.credentials)
		}
	}
}
