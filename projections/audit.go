package projections

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/accountd/accountd/events"
)

// The audit log: one entry per event that concerns an account. FerretDB
// scans for any filter but _id, so an account's entries live in its own
// bucket documents of at most AuditPerBucket entries (_id
// "<account>:<sequence>"), found through one index document per account
// (_id the account, holding the newest bucket's sequence): a page for one
// account reads that account's documents only, newest bucket first.

// AuditPerBucket bounds a bucket document.
const AuditPerBucket = 50

// AuditIndexDoc is an account's audit index. Version is the $all position
// of its newest entry; Seq and Count say which bucket takes the next entry;
// First is the oldest bucket retention has kept.
type AuditIndexDoc struct {
	ID      string `bson:"_id,omitempty"`
	Version int64  `bson:"_v,omitempty"`
	Seq     int64  `bson:"seq"`
	Count   int64  `bson:"count"`
	First   int64  `bson:"first,omitempty"`
}

// AuditBucketDoc holds up to AuditPerBucket entries, keyed by the
// zero-padded $all position (keys sort as the log does).
type AuditBucketDoc struct {
	ID      string                `bson:"_id,omitempty"`
	Version int64                 `bson:"_v,omitempty"`
	Entries map[string]AuditEntry `bson:"entries,omitempty"`
}

// AuditEntry is one event as the audit log shows it: never a password,
// hash, token, digest or secret. Details keep what the user typed (a
// token's title, a credential's service and URL) sealed, as the event
// does; queries open them, and name those erased with the account in
// ErasedDetails.
type AuditEntry struct {
	EventID        string            `bson:"event_id"`
	Position       int64             `bson:"position"`
	Time           string            `bson:"time"`
	Type           string            `bson:"type"`
	Actor          string            `bson:"actor,omitempty"`
	CredentialKind string            `bson:"credential_kind,omitempty"`
	CredentialID   string            `bson:"credential_id,omitempty"`
	ClientIP       string            `bson:"client_ip,omitempty"`
	UserAgent      string            `bson:"user_agent,omitempty"`
	CorrelationID  string            `bson:"correlation_id,omitempty"`
	Changes        []AuditChange     `bson:"changes,omitempty"`
	Details        map[string]string `bson:"details,omitempty"`
	ErasedDetails  []string          `bson:"-"`
}

// AuditDetailAAD names a sealed detail of an account's entry: the event's
// field it was copied from ("" for a detail that is never sealed).
func AuditDetailAAD(account string, e AuditEntry, key string) string {
	switch {
	case strings.HasPrefix(e.Type, "token.") && key == "title":
		return events.TokenAAD(account, e.Details["token"], key)
	case strings.HasPrefix(e.Type, "credential.") && (key == "service" || key == "url"):
		return events.CredentialAAD(account, e.Details["credential"], key)
	}
	return ""
}

// AuditChange is a field's value before and after. Personal values stay
// sealed as in the log; queries open them, and an erased account's come
// out empty with Erased set.
type AuditChange struct {
	Field  string `bson:"field" json:"field"`
	From   string `bson:"from" json:"from"`
	To     string `bson:"to" json:"to"`
	Erased bool   `bson:"-" json:"erased,omitempty"`
}

// Audit collections.
const (
	AuditIndexCollection  = "audit_index"
	AuditBucketCollection = "audit"
)

// AuditBucketID is the _id of an account's bucket.
func AuditBucketID(account string, seq int64) string { return fmt.Sprintf("%s:%010d", account, seq) }

// AuditKey is an entry's key in its bucket: it sorts as the log does.
func AuditKey(position uint64) string { return fmt.Sprintf("%020d", position) }

// AuditProjector keeps the audit log.
func AuditProjector() Projector {
	return Projector{Name: "audit", Categories: []string{events.UserCategory, events.UsernameCategory, events.SessionCategory, events.TokensCategory,
		events.CredentialsCategory, events.InboxCategory},
		Collections: []string{AuditIndexCollection, AuditBucketCollection}, Reduce: reduceAudit}
}

func reduceAudit(e events.Recorded) ([]Write, error) {
	account := AuditAccount(e)
	if account == "" {
		return nil, nil
	}
	entry, err := fields(AuditEntryOf(e))
	if err != nil {
		return nil, err
	}
	return []Write{{Collection: AuditIndexCollection, ID: account, Version: e.Position,
		Append: &Append{Buckets: AuditBucketCollection, Key: AuditKey(e.Position), Value: entry, PerBucket: AuditPerBucket}}}, nil
}

// AuditAccount is the account an event concerns ("" for none).
func AuditAccount(e events.Recorded) string {
	switch p := e.Payload.(type) {
	case events.SessionStartedV1:
		return p.UserID
	case events.SessionEndedV1:
		return p.UserID
	case events.SessionSeenV1:
		return p.UserID
	case events.UsernameClaimedV1:
		return p.UserID
	case events.UsernameReleasedV1:
		return p.UserID
	}
	switch p := e.Payload.(type) {
	case events.NotificationPreferencesSetV1:
		return p.UserID
	case events.NotificationRaisedV1, events.NotificationsReadV1, events.NotificationEmailedV1, events.NotificationEmailFailedV1:
		return "" // the feed is their record
	}
	switch events.Category(e.Stream) {
	case events.UserCategory, events.TokensCategory, events.CredentialsCategory:
		return events.StreamID(e.Stream)
	}
	return ""
}

// AuditEntryOf describes an event without any secret it carries.
func AuditEntryOf(e events.Recorded) AuditEntry {
	m := e.Metadata
	entry := AuditEntry{EventID: e.ID.String(), Position: int64(e.Position), Time: stamp(m.Time), Type: e.Type, Actor: m.Actor,
		CredentialKind: m.CredentialKind, CredentialID: m.CredentialID, ClientIP: m.ClientIP, UserAgent: m.UserAgent, CorrelationID: m.CorrelationID}
	details := map[string]string{}
	switch p := e.Payload.(type) {
	case events.UserRegisteredV1:
		details["username"] = p.Username
		entry.Changes = profileChanges(p.Profile, events.Profile{})
	case events.UserRenamedV1:
		entry.Changes = []AuditChange{{Field: "username", From: p.OldUsername, To: p.NewUsername}}
	case events.UserProfileUpdatedV1:
		var before events.Profile
		if p.Previous != nil {
			before = *p.Previous
		}
		entry.Changes = profileChanges(p.Profile, before)
	case events.UserPasswordChangedV1:
		details["kept_session"] = p.KeptSessionID
	case events.UsernameClaimedV1:
		details["username"] = p.Username
	case events.UsernameReleasedV1:
		details["username"], details["reason"] = p.Username, p.Reason
	case events.SessionStartedV1:
		details["session"], details["expires_at"] = p.SessionID, stamp(p.ExpiresAt)
		if p.Channel != "" {
			details["channel"] = p.Channel
		}
	case events.SessionEndedV1:
		details["session"], details["reason"] = p.SessionID, p.Reason
	case events.SessionSeenV1:
		details["session"] = p.SessionID
	case events.TokenCreatedV1:
		details["token"], details["title"], details["scopes"], details["expires_at"], details["token_prefix"] =
			p.TokenID, p.Title, strings.Join(p.Scopes, " "), stamp(p.ExpiresAt), p.TokenPrefix
		if len(p.AllowedIPs) > 0 {
			details["allowed_ips"] = strings.Join(p.AllowedIPs, " ")
		}
	case events.TokenUpdatedV1:
		details["token"] = p.TokenID
		if p.Title != nil {
			details["title"] = *p.Title
		}
		if p.Enabled != nil {
			details["enabled"] = fmt.Sprint(*p.Enabled)
		}
		if p.AllowedIPs != nil {
			details["allowed_ips"] = strings.Join(*p.AllowedIPs, " ")
		}
	case events.TokenRotatedV1:
		details["token"], details["token_prefix"], details["expires_at"] = p.TokenID, p.TokenPrefix, stamp(p.ExpiresAt)
	case events.TokenRevokedV1:
		details["token"], details["reason"] = p.TokenID, p.Reason
	case events.TokenDeletedV1:
		details["token"] = p.TokenID
	case events.TokenReuseDetectedV1:
		details["token"], details["address"] = p.TokenID, p.ClientIP
	case events.TokenUsedV1:
		details["token"], details["address"] = p.TokenID, p.ClientIP
	case events.UserRoleGrantedV1:
		details["role"] = p.Role
		if p.ConfiguredAs != "" {
			details["configured_as"] = p.ConfiguredAs // granted by configuration
		}
	case events.UserRoleRevokedV1:
		details["role"] = p.Role
	case events.UserAdminFieldsUpdatedV1:
		if p.EmployeeID != nil {
			entry.Changes = append(entry.Changes, AuditChange{Field: "employee_id", To: *p.EmployeeID})
		}
		if p.Department != nil {
			entry.Changes = append(entry.Changes, AuditChange{Field: "department", To: *p.Department})
		}
		if p.DisplayNameLocked != nil {
			entry.Changes = append(entry.Changes, AuditChange{Field: "display_name_locked", To: fmt.Sprint(*p.DisplayNameLocked)})
		}
	case events.UserDeletedV1:
		details["username"] = p.Username
	case events.UserPictureChangedV1:
		details["sha256"] = p.SHA256
	case events.CredentialCreatedV1:
		details["credential"], details["service"], details["url"] = p.CredentialID, p.Service, p.URL
		if p.ExpiresAt != nil {
			details["expires_at"] = stamp(*p.ExpiresAt)
		}
		details["provisioned_by"] = p.ProvisionedBy
	case events.CredentialUpdatedV1:
		details["credential"] = p.CredentialID
		var fields []string
		for _, f := range []struct {
			name string
			set  bool
		}{{"service", p.Service != nil}, {"url", p.URL != nil}, {"username", p.Username != nil}, {"secret", p.Secret != nil},
			{"note", p.Note != nil}, {"expires_at", p.ExpiresAt != nil || p.ClearExpiry}} {
			if f.set {
				fields = append(fields, f.name)
			}
		}
		details["changed"] = strings.Join(fields, " ")
		if p.Service != nil {
			details["service"] = *p.Service
		}
		if p.URL != nil {
			details["url"] = *p.URL
		}
	case events.CredentialDeletedV1:
		details["credential"] = p.CredentialID
	case events.CredentialRevealedV1:
		details["credential"] = p.CredentialID
	case events.NotificationPreferencesSetV1:
		var on []string
		for _, c := range slices.Sorted(maps.Keys(p.Categories)) {
			ch := p.Categories[c]
			if ch.InApp {
				on = append(on, c+":in_app")
			}
			if ch.Email {
				on = append(on, c+":email")
			}
		}
		details["channels"] = strings.Join(on, " ")
		var days []string
		for _, d := range p.LeadDays {
			days = append(days, fmt.Sprint(d))
		}
		details["lead_days"] = strings.Join(days, " ")
	}
	for k, v := range details {
		if v == "" {
			delete(details, k)
		}
	}
	if len(details) > 0 {
		entry.Details = details
	}
	return entry
}

// profileChanges lists the fields change sets, from before's values.
func profileChanges(change, before events.Profile) []AuditChange {
	from := map[string]string{}
	before.Named(func(name, v string) { from[name] = v })
	var out []AuditChange
	change.Named(func(name, v string) { out = append(out, AuditChange{Field: name, From: from[name], To: v}) })
	return out
}
