package commands_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

// A failed attempt is recorded for a mail not yet sent; once sent, a late
// failure (another attempt got through) changes nothing; an unknown
// notification is not found.
func TestNoteEmailFailed(t *testing.T) {
	raisedMail := events.NotificationRaisedV1{UserID: "u", NotificationID: "n1", Cause: "c", Kind: "password_changed", Category: events.CategorySecurity,
		InApp: true, EmailTo: "ada@example.com", EmailSubject: "s", EmailBody: "b", EmailLang: "en"}
	retry := time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		given   []events.Payload
		id      string
		wantErr error
		want    []string
	}{
		{"pending", []events.Payload{raisedMail}, "n1", nil, []string{events.NotificationEmailFailed}},
		{"already sent", []events.Payload{raisedMail, events.NotificationEmailedV1{UserID: "u", NotificationID: "n1"}}, "n1", nil, nil},
		{"unknown", []events.Payload{raisedMail}, "n2", commands.ErrNotificationNotFound, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t)
			hs.given(events.InboxStream("u"), hs.now, tt.given...)
			before := commands.Version(len(tt.given) - 1)
			err := hs.h.NoteEmailFailed(hs.ctx, commands.NoteEmailFailed{UserID: "u", NotificationID: tt.id, Attempt: 2, Error: "the SMTP relay answered 451", RetryAt: retry}, meta())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			evs := hs.then(events.InboxStream("u"), before)
			if got := types(evs); !slices.Equal(got, tt.want) {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
			if len(evs) == 1 {
				p := evs[0].Payload.(events.NotificationEmailFailedV1)
				if p.Attempt != 2 || p.Error != "the SMTP relay answered 451" || !p.RetryAt.Equal(retry) || evs[0].Metadata.Actor != events.ActorSystem {
					t.Fatalf("recorded %+v %+v", p, evs[0].Metadata)
				}
			}
		})
	}
}
