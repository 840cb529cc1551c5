package queries

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
)

// Notification is one entry of the feed, with its read state. Its params
// are opened; those erased with the account are left out and named in
// Erased.
type Notification struct {
	projections.NotificationEntry
	Read   bool
	Erased []string
}

// NotificationPage is a page of the feed, newest first.
type NotificationPage struct {
	Notifications []Notification
	NextCursor    string
	Unread        int // on this page
}

// ListNotifications reads a page of the user's feed: the state document,
// the feed's index and its newest buckets, all by _id.
func (r *Reader) ListNotifications(ctx context.Context, userID, cursor string, limit int) (NotificationPage, error) {
	r.waitForCaller(ctx, userID, projections.NotificationsProjector().Name)
	var state projections.NotificationStateDoc
	if err := r.findByID(ctx, projections.NotificationStateCollection, userID, &state); err != nil && !errors.Is(err, ErrNotFound) {
		return NotificationPage{}, err
	}
	var page NotificationPage
	last := ""
	err := eachLogEntry(ctx, r, projections.NotificationIndexCollection, projections.NotificationBucketCollection, userID, cursor,
		func(e projections.NotificationEntry, c string) (bool, error) {
			if len(page.Notifications) == limit {
				page.NextCursor = last
				return true, nil
			}
			n, err := r.openNotification(ctx, userID, Notification{NotificationEntry: e, Read: state.IsRead(e)})
			if err != nil {
				return true, err
			}
			if !n.Read {
				page.Unread++
			}
			page.Notifications = append(page.Notifications, n)
			last = c
			return false, nil
		})
	return page, err
}

// Outbox lists the e-mails not sent yet, of every account (admins), up
// to limit. The embedded database scans for it: an admin's occasional look.
func (r *Reader) Outbox(ctx context.Context, limit int) ([]OutboxMail, error) {
	return r.outbox(ctx, limit, func(projections.OutboxMail) bool { return true })
}

// DueOutbox lists the e-mails not sent yet whose next attempt is due at
// now, oldest first, up to limit: mails backing off never crowd out
// the ones due (the mailer's pass, every few seconds: a scan, as above).
func (r *Reader) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxMail, error) {
	return r.outbox(ctx, limit, func(m projections.OutboxMail) bool { return !projections.Time(m.RetryAt).After(now) })
}

func (r *Reader) outbox(ctx context.Context, limit int, keep func(projections.OutboxMail) bool) ([]OutboxMail, error) {
	coll := projections.OutboxCollection
	if r.collections != nil {
		coll = r.collections(coll)
	}
	cur, err := r.db.Collection(coll).Find(ctx, map[string]any{})
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var out []OutboxMail
	for cur.Next(ctx) {
		var doc projections.OutboxDoc
		if err := cur.Decode(&doc); err != nil {
			return nil, err
		}
		for id, m := range doc.Emails {
			if m.SentAt != "" || m.To == "" || !keep(m) {
				continue
			}
			m, err := r.openMail(ctx, doc.ID, id, m)
			if r.erased != nil && errors.Is(err, r.erased) {
				continue // the account was deleted: nothing to send
			}
			if err != nil {
				return nil, err
			}
			out = append(out, OutboxMail{UserID: doc.ID, NotificationID: id, OutboxMail: m})
		}
	}
	sortOutbox(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, cur.Err()
}

// OutboxMail is one e-mail waiting to be sent.
type OutboxMail struct {
	UserID, NotificationID string
	projections.OutboxMail
}

func sortOutbox(out []OutboxMail) {
	slices.SortFunc(out, func(a, b OutboxMail) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.NotificationID, b.NotificationID))
	})
}

// NotificationState reads the user's preferences and read state (zero
// when they never set any).
func (r *Reader) NotificationState(ctx context.Context, userID string) (projections.NotificationStateDoc, error) {
	r.waitForCaller(ctx, userID, projections.NotificationsProjector().Name)
	var state projections.NotificationStateDoc
	err := r.findByID(ctx, projections.NotificationStateCollection, userID, &state)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	return state, err
}

// openNotification opens a notification's sealed params: the feed keeps
// them as the log does, so the account's erasure erases them here too.
func (r *Reader) openNotification(ctx context.Context, owner string, n Notification) (Notification, error) {
	if r.keys == nil {
		return n, nil
	}
	var params map[string]string
	for k, v := range n.Params {
		if !events.Sealed(v) {
			continue
		}
		if params == nil {
			params = maps.Clone(n.Params)
		}
		plain, err := r.keys.Open(ctx, owner, events.NotificationParamAAD(owner, n.ID, k), v)
		if r.erased != nil && errors.Is(err, r.erased) {
			delete(params, k)
			n.Erased = append(n.Erased, k)
			continue
		}
		if err != nil {
			return n, err
		}
		params[k] = plain
	}
	if params != nil {
		n.Params = params
		slices.Sort(n.Erased)
	}
	return n, nil
}

// openMail opens an e-mail's sealed address and text.
func (r *Reader) openMail(ctx context.Context, owner, id string, m projections.OutboxMail) (projections.OutboxMail, error) {
	if r.keys == nil {
		return m, nil
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"email_to", &m.To}, {"email_subject", &m.Subject}, {"email_body", &m.Body}} {
		plain, err := r.keys.Open(ctx, owner, events.NotificationAAD(owner, id, f.name), *f.v)
		if err != nil {
			return m, err
		}
		*f.v = plain
	}
	return m, nil
}
