package events

import "time"

// A user's notifications and notification preferences share one stream,
// inbox-<user id>: a notification is raised once per cause.

// Notification categories and channels.
const (
	CategorySecurity = "security"
	CategoryTokens   = "tokens"
	CategoryAccount  = "account"
	CategoryProduct  = "product"
	ChannelInApp     = "in_app"
	ChannelEmail     = "email"
)

// Channels says where a category's notifications go.
type Channels struct {
	InApp bool `json:"in_app" bson:"in_app"`
	Email bool `json:"email" bson:"email"`
}

// NotificationPreferencesSetV1 records the user's preferences.
type NotificationPreferencesSetV1 struct {
	UserID     string              `json:"user_id"`
	Categories map[string]Channels `json:"categories"`
	LeadDays   []int               `json:"lead_days"` // reminders before a token or credential expires
}

// NotificationRaisedV1 is one notification, with its e-mail rendered (in
// the user's language) when it goes to the e-mail channel too.
type NotificationRaisedV1 struct {
	UserID         string            `json:"user_id"`
	NotificationID string            `json:"notification_id"`
	Cause          string            `json:"cause"` // what raised it: an event id, or expiring:<id>:<days>
	Kind           string            `json:"kind"`
	Category       string            `json:"category"`
	Params         map[string]string `json:"params,omitempty"`
	InApp          bool              `json:"in_app"`
	EmailTo        string            `json:"email_to,omitempty"`
	EmailSubject   string            `json:"email_subject,omitempty"`
	EmailBody      string            `json:"email_body,omitempty"`
	EmailLang      string            `json:"email_lang,omitempty"` // the e-mail's language (en, tr); absent before it was recorded
	At             time.Time         `json:"at"`
}

// NotificationsReadV1 marks notifications read (all raised up to a time
// when All is set).
type NotificationsReadV1 struct {
	UserID string    `json:"user_id"`
	IDs    []string  `json:"ids,omitempty"`
	All    bool      `json:"all,omitempty"`
	UpTo   time.Time `json:"up_to,omitempty"`
}

// NotificationEmailedV1: the outbox sent a notification's e-mail.
type NotificationEmailedV1 struct {
	UserID         string `json:"user_id"`
	NotificationID string `json:"notification_id"`
}

// NotificationEmailFailedV1: an attempt to send a notification's e-mail
// failed; the outbox tries again from RetryAt. Error says why without any
// personal data (an SMTP reply's code, not its text, which often repeats
// the address).
type NotificationEmailFailedV1 struct {
	UserID         string    `json:"user_id"`
	NotificationID string    `json:"notification_id"`
	Attempt        int       `json:"attempt"`
	Error          string    `json:"error"`
	RetryAt        time.Time `json:"retry_at"`
}

// NotificationAAD names a sealed field of a notification.
func NotificationAAD(owner, notificationID, field string) string {
	return "user:" + owner + ":notification:" + notificationID + ":" + field
}

// NotificationParamAAD names a sealed parameter of a notification.
func NotificationParamAAD(owner, notificationID, param string) string {
	return NotificationAAD(owner, notificationID, "params."+param)
}

// MapPersonal implements Personal: the address, the rendered e-mail and
// every parameter (they name what the user typed: a token's title, a
// credential's service), so that the feed goes with the account too.
func (p NotificationRaisedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	if len(p.Params) > 0 {
		params := make(map[string]string, len(p.Params)) // a copy: the caller's payload keeps its map
		for k, v := range p.Params {
			out, err := mapString(&v, NotificationParamAAD(owner, p.NotificationID, k), f)
			if err != nil {
				return p, err
			}
			params[k] = *out
		}
		p.Params = params
	}
	for _, field := range []struct {
		name string
		v    *string
	}{{"email_to", &p.EmailTo}, {"email_subject", &p.EmailSubject}, {"email_body", &p.EmailBody}} {
		out, err := mapString(field.v, NotificationAAD(owner, p.NotificationID, field.name), f)
		if err != nil {
			return p, err
		}
		*field.v = *out
	}
	return p, nil
}

func (NotificationPreferencesSetV1) EventType() string { return NotificationPreferencesSet }
func (NotificationRaisedV1) EventType() string         { return NotificationRaised }
func (NotificationsReadV1) EventType() string          { return NotificationsRead }
func (NotificationEmailedV1) EventType() string        { return NotificationEmailed }
func (NotificationEmailFailedV1) EventType() string    { return NotificationEmailFailed }
