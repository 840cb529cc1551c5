package projections

import "github.com/accountd/accountd/events"

// The notification feed is kept like the audit log: an account's entries
// in bucket documents of at most NotificationsPerBucket (_id
// "<account>:<sequence>"), found through one index document per account,
// so that the first page reads two documents by _id. What the user has
// read, and their preferences, are in one state document per account.
const (
	NotificationIndexCollection  = "notification_index"
	NotificationBucketCollection = "notifications"
	NotificationStateCollection  = "notification_state"
	OutboxCollection             = "outbox"
	NotificationsPerBucket       = 200
)

// NotificationIndexDoc is an account's feed index (as AuditIndexDoc).
type NotificationIndexDoc = AuditIndexDoc

// NotificationBucketDoc holds up to NotificationsPerBucket entries.
type NotificationBucketDoc struct {
	ID      string                       `bson:"_id,omitempty"`
	Version int64                        `bson:"_v,omitempty"`
	Entries map[string]NotificationEntry `bson:"entries,omitempty"`
}

// NotificationEntry is one in-app notification.
type NotificationEntry struct {
	ID       string            `bson:"id"`
	Kind     string            `bson:"kind"`
	Category string            `bson:"category"`
	Params   map[string]string `bson:"params,omitempty"`
	At       string            `bson:"at"`
}

// NotificationStateDoc is what the user has read, and their preferences.
type NotificationStateDoc struct {
	ID         string                     `bson:"_id,omitempty"`
	Version    int64                      `bson:"_v,omitempty"`
	ReadUpTo   string                     `bson:"read_up_to,omitempty"` // everything raised up to here is read
	Read       map[string]bool            `bson:"read,omitempty"`       // read one by one since
	Categories map[string]events.Channels `bson:"categories,omitempty"`
	LeadDays   []int                      `bson:"lead_days,omitempty"`
}

// IsRead says whether the entry is read.
func (d NotificationStateDoc) IsRead(e NotificationEntry) bool {
	return d.Read[e.ID] || (d.ReadUpTo != "" && e.At <= d.ReadUpTo)
}

// NotificationsProjector keeps the feed and the state documents.
func NotificationsProjector() Projector {
	return Projector{Name: "notifications", Categories: []string{events.InboxCategory},
		Collections: []string{NotificationIndexCollection, NotificationBucketCollection, NotificationStateCollection}, Reduce: reduceNotification}
}

func reduceNotification(e events.Recorded) ([]Write, error) {
	user := events.StreamID(e.Stream)
	switch p := e.Payload.(type) {
	case events.NotificationRaisedV1:
		if !p.InApp {
			return nil, nil // an e-mail only: the outbox has it
		}
		entry, err := fields(NotificationEntry{ID: p.NotificationID, Kind: p.Kind, Category: p.Category, Params: p.Params, At: stamp(p.At)})
		if err != nil {
			return nil, err
		}
		return []Write{{Collection: NotificationIndexCollection, ID: user, Version: e.Position,
			Append: &Append{Buckets: NotificationBucketCollection, Key: AuditKey(e.Position), Value: entry, PerBucket: NotificationsPerBucket}}}, nil
	case events.NotificationsReadV1:
		set := map[string]any{}
		if p.All {
			set["read_up_to"], set["read"] = stamp(p.UpTo), Removal{}
		}
		for _, id := range p.IDs {
			set["read."+id] = true
		}
		return []Write{{Collection: NotificationStateCollection, ID: user, Version: e.Position, Set: set}}, nil
	case events.NotificationPreferencesSetV1:
		cats := map[string]any{}
		for c, ch := range p.Categories {
			cats[c] = map[string]any{"in_app": ch.InApp, "email": ch.Email}
		}
		days := make([]any, len(p.LeadDays))
		for i, d := range p.LeadDays {
			days[i] = int32(d)
		}
		return []Write{{Collection: NotificationStateCollection, ID: user, Version: e.Position, Set: map[string]any{"categories": cats, "lead_days": days}}}, nil
	}
	return nil, nil
}

// OutboxDoc holds an account's e-mails, pending and sent, keyed by
// notification id. Address and text stay sealed, as in the log: the
// account's erasure erases them here too, and whoever reads the outbox
// opens them.
type OutboxDoc struct {
	ID      string                `bson:"_id,omitempty"`
	Version int64                 `bson:"_v,omitempty"`
	Emails  map[string]OutboxMail `bson:"emails,omitempty"`
}

// OutboxMail is one e-mail.
type OutboxMail struct {
	To        string `bson:"to,omitempty"`
	Subject   string `bson:"subject,omitempty"`
	Body      string `bson:"body,omitempty"`
	Kind      string `bson:"kind,omitempty"`
	CreatedAt string `bson:"created_at,omitempty"`
	SentAt    string `bson:"sent_at,omitempty"`
	Lang      string `bson:"lang,omitempty"` // the text's language (en, tr; "": raised before it was recorded)
	// Failed attempts to send it: how many, the last one's error and when
	// the next is due.
	Attempts  int    `bson:"attempts,omitempty"`
	LastError string `bson:"last_error,omitempty"`
	RetryAt   string `bson:"retry_at,omitempty"`
}

// OutboxProjector keeps the e-mail outbox.
func OutboxProjector() Projector {
	return Projector{Name: "outbox", Categories: []string{events.InboxCategory}, Collections: []string{OutboxCollection}, Reduce: reduceOutbox}
}

func reduceOutbox(e events.Recorded) ([]Write, error) {
	user := events.StreamID(e.Stream)
	switch p := e.Payload.(type) {
	case events.NotificationRaisedV1:
		if p.EmailTo == "" {
			return nil, nil
		}
		set, err := under("emails."+p.NotificationID, OutboxMail{To: p.EmailTo, Subject: p.EmailSubject, Body: p.EmailBody, Kind: p.Kind, CreatedAt: stamp(p.At), Lang: p.EmailLang})
		if err != nil {
			return nil, err
		}
		return []Write{{Collection: OutboxCollection, ID: user, Version: e.Position, Set: set}}, nil
	case events.NotificationEmailedV1:
		return []Write{{Collection: OutboxCollection, ID: user, Version: e.Position, Set: map[string]any{"emails." + p.NotificationID + ".sent_at": stamp(e.Metadata.Time)}}}, nil
	case events.NotificationEmailFailedV1:
		at := "emails." + p.NotificationID + "."
		return []Write{{Collection: OutboxCollection, ID: user, Version: e.Position, Set: map[string]any{
			at + "attempts": int32(p.Attempt), at + "last_error": p.Error, at + "retry_at": stamp(p.RetryAt)}}}, nil
	}
	return nil, nil
}
