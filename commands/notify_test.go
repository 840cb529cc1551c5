package commands_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

func raised(hs *harness, id string) []events.NotificationRaisedV1 {
	var out []events.NotificationRaisedV1
	for _, e := range hs.then(events.InboxStream(id), commands.NoStream) {
		if p, ok := e.Payload.(events.NotificationRaisedV1); ok {
			out = append(out, p)
		}
	}
	return out
}

func TestNotifyOncePerCause(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	hs.given(events.UserStream(id), hs.now, events.UserProfileUpdatedV1{UserID: id, Profile: events.Profile{"email": "ada@example.com", "preferred_language": "tr"}})
	n := commands.Raise{Cause: "event-1", Kind: "password_changed", Category: events.CategorySecurity}
	for range 3 {
		if _, err := hs.h.Notify(hs.ctx, id, n, meta()); err != nil {
			t.Fatal(err)
		}
	}
	got := raised(hs, id)
	if len(got) != 1 {
		t.Fatalf("%d notifications for one cause", len(got))
	}
	if got[0].EmailTo != "ada@example.com" || got[0].EmailSubject != "Parolanız değiştirildi" || got[0].EmailLang != "tr" || !got[0].InApp {
		t.Fatalf("notification %+v", got[0])
	}
}

func TestNotifyFollowsPreferences(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	hs.given(events.UserStream(id), hs.now, events.UserProfileUpdatedV1{UserID: id, Profile: events.Profile{"email": "ada@example.com"}})
	off := map[string]events.Channels{
		events.CategorySecurity: {InApp: true, Email: false},
		events.CategoryTokens:   {InApp: false, Email: false},
		events.CategoryProduct:  {InApp: false, Email: true},
	}
	prefs, err := hs.h.SetNotificationPreferences(hs.ctx, commands.SetNotificationPreferences{UserID: id, Preferences: commands.Preferences{Categories: off, LeadDays: []int{1, 30, 7, 7}}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prefs.LeadDays, []int{30, 7, 1}) || !prefs.Categories[events.CategoryAccount].Email {
		t.Fatalf("canonical preferences %+v", prefs)
	}
	for _, n := range []commands.Raise{
		{Cause: "a", Kind: "password_changed", Category: events.CategorySecurity},
		{Cause: "b", Kind: "token_created", Category: events.CategoryTokens}, // switched off everywhere: not raised
		{Cause: "c", Kind: "username_changed", Category: events.CategoryAccount},
		{Cause: "d", Kind: "email_changed", Category: events.CategorySecurity, EmailTo: "old@example.com", InAppOff: true},
	} {
		if _, err := hs.h.Notify(hs.ctx, id, n, meta()); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, n := range raised(hs, id) {
		got = append(got, n.Cause+":"+map[bool]string{true: "app", false: "-"}[n.InApp]+":"+n.EmailTo)
	}
	want := []string{"a:app:", "c:app:ada@example.com", "d:-:old@example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("raised %v, want %v", got, want)
	}

	for _, tt := range []struct {
		name  string
		prefs commands.Preferences
		codes []string
	}{
		{"security in the app cannot be switched off", commands.Preferences{Categories: map[string]events.Channels{events.CategorySecurity: {InApp: false, Email: true}}}, []string{"security.in_app_required"}},
		{"an unknown category", commands.Preferences{Categories: map[string]events.Channels{"weather": {InApp: true}}}, []string{"categories.unknown"}},
		{"lead days out of range", commands.Preferences{LeadDays: []int{0, 61}}, []string{"lead_days.out_of_range"}},
		{"too many lead days", commands.Preferences{LeadDays: []int{1, 2, 3, 4, 5, 6}}, []string{"lead_days.too_many"}},
	} {
		_, err := hs.h.SetNotificationPreferences(hs.ctx, commands.SetNotificationPreferences{UserID: id, Preferences: tt.prefs}, meta())
		if got := violationCodes(err); !slices.Equal(got, tt.codes) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.codes)
		}
	}
}

func TestMarkNotificationsRead(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	if _, err := hs.h.Notify(hs.ctx, id, commands.Raise{Cause: "a", Kind: "password_changed", Category: events.CategorySecurity, At: hs.now}, meta()); err != nil {
		t.Fatal(err)
	}
	n := raised(hs, id)[0]
	if _, err := hs.h.MarkNotificationsRead(hs.ctx, commands.MarkNotificationsRead{UserID: id, IDs: []string{"nope"}}, meta()); !errors.Is(err, commands.ErrNotificationNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := hs.h.MarkNotificationsRead(hs.ctx, commands.MarkNotificationsRead{UserID: id, IDs: []string{n.NotificationID}}, meta()); err != nil {
		t.Fatal(err)
	}
	hs.now = hs.now.Add(time.Minute)
	if _, err := hs.h.MarkNotificationsRead(hs.ctx, commands.MarkNotificationsRead{UserID: id, All: true}, meta()); err != nil {
		t.Fatal(err)
	}
	want := []string{events.NotificationRaised, events.NotificationsRead, events.NotificationsRead}
	if got := types(hs.then(events.InboxStream(id), commands.NoStream)); !slices.Equal(got, want) {
		t.Fatalf("inbox %v", got)
	}
}
