package commands

import (
	"context"
	"maps"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/notices"
)

// handleNotify raises a notification for a user, once per cause: raising it
// again (a redelivered event, a reminder job run twice) changes nothing.
// The e-mail, when the category goes to e-mail and the account has an
// address, is rendered now in the user's language and kept, sealed, with
// the notification: the outbox sends what was decided here.
func (h *Handlers) handleNotify(ctx context.Context, userID string, n Raise, meta events.Metadata) (res Result, err error) {
	stream := events.InboxStream(userID)
	in, _, err := h.inboxes.load(ctx, stream, false)
	if err != nil {
		return Result{}, err
	}
	if in.Raised(n.Cause) {
		return Result{}, nil
	}
	u, _, err := h.users.load(ctx, events.UserStream(userID), false)
	if err != nil {
		return Result{}, err
	}
	if !u.Exists() {
		return Result{}, nil // deleted meanwhile: nobody to tell
	}
	params := maps.Clone(n.Params)
	if params == nil {
		params = map[string]string{}
	}
	params["username"] = u.Username
	lang := notices.Lang(u.Profile.Get(events.FieldPreferredLanguage))
	id := uuid.NewString()
	if meta.Time.IsZero() {
		meta = h.stamp(meta)
	}
	out, err := update(ctx, h, h.inboxes, stream, nil, meta, func(in Inbox) ([]events.Payload, error) {
		if in.Raised(n.Cause) {
			return nil, nil
		}
		ch := in.Preferences().Categories[n.Category]
		if n.Category == events.CategorySecurity {
			ch.InApp = true // never switched off
		}
		e := events.NotificationRaisedV1{UserID: userID, NotificationID: id, Cause: n.Cause, Kind: n.Kind, Category: n.Category,
			Params: n.Params, InApp: ch.InApp && !n.InAppOff, At: n.At}
		if e.At.IsZero() {
			e.At = meta.Time
		}
		to := n.EmailTo
		if to == "" {
			to = u.Profile.Get(events.FieldEmail)
		}
		if (ch.Email || n.EmailTo != "") && to != "" {
			e.EmailTo, e.EmailSubject, e.EmailBody, e.EmailLang = to, notices.Title(n.Kind, lang, params), notices.Body(n.Kind, lang, params), lang
		}
		if !e.InApp && e.EmailTo == "" {
			return nil, nil // nowhere to go
		}
		return []events.Payload{e}, nil
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}

// SetNotificationPreferences replaces the user's preferences.
type SetNotificationPreferences struct {
	UserID string
	Preferences
}

// handleSetNotificationPreferences records them; the same again changes nothing.
func (h *Handlers) handleSetNotificationPreferences(ctx context.Context, cmd SetNotificationPreferences, meta events.Metadata) (res Preferences, err error) {
	prefs, vs := validPreferences(cmd.Preferences)
	if err := invalid(vs); err != nil {
		return Preferences{}, err
	}
	out, err := update(ctx, h, h.inboxes, events.InboxStream(cmd.UserID), nil, h.stamp(meta), func(in Inbox) ([]events.Payload, error) {
		cur := in.Preferences()
		if maps.Equal(cur.Categories, prefs.Categories) && slicesEqual(cur.LeadDays, prefs.LeadDays) {
			return nil, nil
		}
		return []events.Payload{events.NotificationPreferencesSetV1{UserID: cmd.UserID, Categories: prefs.Categories, LeadDays: prefs.LeadDays}}, nil
	})
	if err != nil {
		return Preferences{}, err
	}
	return out.State.Preferences(), nil
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// NotificationPreferences reads the user's preferences (or the defaults).
func (h *Handlers) NotificationPreferences(ctx context.Context, userID string) (Preferences, error) {
	in, _, err := h.inboxes.load(ctx, events.InboxStream(userID), false)
	return in.Preferences(), err
}

// MarkNotificationsRead marks notifications read: the ones named, or all
// raised so far.
type MarkNotificationsRead struct {
	UserID string
	IDs    []string
	All    bool
}

// handleMarkNotificationsRead records it; an unknown id is not found.
func (h *Handlers) handleMarkNotificationsRead(ctx context.Context, cmd MarkNotificationsRead, meta events.Metadata) (res Result, err error) {
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.inboxes, events.InboxStream(cmd.UserID), nil, meta, func(in Inbox) ([]events.Payload, error) {
		if cmd.All {
			if len(in.ids) == 0 {
				return nil, nil
			}
			return []events.Payload{events.NotificationsReadV1{UserID: cmd.UserID, All: true, UpTo: meta.Time}}, nil
		}
		for _, id := range cmd.IDs {
			if _, ok := in.ids[id]; !ok {
				return nil, ErrNotificationNotFound
			}
		}
		return []events.Payload{events.NotificationsReadV1{UserID: cmd.UserID, IDs: cmd.IDs}}, nil
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}

// handleNoteEmailed records that the outbox sent a notification's e-mail.
func (h *Handlers) handleNoteEmailed(ctx context.Context, userID, notificationID string, meta events.Metadata) (err error) {
	meta = h.stamp(meta)
	meta.Actor = events.ActorSystem
	_, err = update(ctx, h, h.inboxes, events.InboxStream(userID), nil, meta, func(in Inbox) ([]events.Payload, error) {
		if _, ok := in.ids[notificationID]; !ok {
			return nil, ErrNotificationNotFound
		}
		return []events.Payload{events.NotificationEmailedV1{UserID: userID, NotificationID: notificationID}}, nil
	})
	return err
}

// NewAddress says whether the token use recorded at revision of the user's
// tokens stream came from an address the token had not been used from
// before it; the first address a token is used from is its baseline, not
// new. Decided on the log, so redelivery gives the same answer.
func (h *Handlers) NewAddress(ctx context.Context, userID, tokenID, address string, revision uint64) (title string, isNew bool, err error) {
	ts, version, err := h.tokens.load(ctx, events.TokensStream(userID), false)
	if err != nil {
		return "", false, err
	}
	if version < Version(revision) {
		if ts, _, err = h.tokens.load(ctx, events.TokensStream(userID), true); err != nil {
			return "", false, err
		}
	}
	t, ok := ts.Get(tokenID)
	if !ok {
		return "", false, nil // deleted since
	}
	first, remembered := t.Addresses[address]
	if remembered && first != revision {
		return t.Title, false, nil // seen before this use
	}
	for ip, rev := range t.Addresses {
		if ip != address && rev < revision {
			return t.Title, true, nil // an earlier address is the baseline
		}
	}
	return t.Title, false, nil
}

// TokenTitle is a token's title ("" if it is gone).
func (h *Handlers) TokenTitle(ctx context.Context, userID, tokenID string) string {
	ts, _, err := h.tokens.load(ctx, events.TokensStream(userID), false)
	if err != nil {
		return ""
	}
	t, _ := ts.Get(tokenID)
	return t.Title
}

// CredentialService is a service credential's service ("" if it is gone).
func (h *Handlers) CredentialService(ctx context.Context, userID, credentialID string) string {
	cs, _, err := h.credentials.load(ctx, events.CredentialsStream(userID), false)
	if err != nil {
		return ""
	}
	c, _ := cs.Get(credentialID)
	return c.Service
}
