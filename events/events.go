// Package events defines the account service's events: explicit, stable
// past-tense type names, their JSON payloads and the metadata every event
// carries. Payloads evolve only by adding optional fields; a change of
// meaning is a new type. It imports nothing internal.
package events

import "time"

// Event types. These strings are stored forever: never rename one.
const (
	UserRegistered     = "user.registered"
	UserRenamed        = "user.renamed"
	UserProfileUpdated = "user.profile_updated"
	UsernameClaimed    = "username.claimed"
	UsernameReleased   = "username.released"
	SessionStarted     = "session.started"
	SessionEnded       = "session.ended"
)

// Stream categories; a stream is "<category>-<id>".
const (
	UserCategory     = "user"
	UsernameCategory = "username"
	SessionCategory  = "session"
)

// UserStream is the stream of one account.
func UserStream(userID string) string { return UserCategory + "-" + userID }

// UsernameStream is the reservation stream of a username, case-folded so
// that names differing only in case share one reservation.
func UsernameStream(canonicalName string) string { return UsernameCategory + "-" + canonicalName }

// SessionStream is the stream of one sign-in session.
func SessionStream(sessionID string) string { return SessionCategory + "-" + sessionID }

// SchemaVersion is the metadata schema version written with every event.
const SchemaVersion = 1

// Metadata travels as each event's EventStoreDB custom metadata.
type Metadata struct {
	SchemaVersion int       `json:"schema_version"`
	Actor         string    `json:"actor,omitempty"` // user id, or "anonymous" / "system"
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id"`
	ClientIP      string    `json:"client_ip,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	Time          time.Time `json:"time"`
}

// Profile holds the editable profile fields. Pointers distinguish "not
// given" from "cleared" in updates.
type Profile struct {
	Email             *string `json:"email,omitempty"`
	FullName          *string `json:"full_name,omitempty"`
	Description       *string `json:"description,omitempty"`
	PreferredLanguage *string `json:"preferred_language,omitempty"`
	PreferredTimezone *string `json:"preferred_timezone,omitempty"`
}

// UserRegisteredV1 opens a user stream.
type UserRegisteredV1 struct {
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"` // argon2id PHC string, never the password
	Profile
}

// UserRenamedV1 records a username change; the old name is released.
type UserRenamedV1 struct {
	UserID      string `json:"user_id"`
	OldUsername string `json:"old_username"`
	NewUsername string `json:"new_username"`
}

// UserProfileUpdatedV1 carries only the fields that changed.
type UserProfileUpdatedV1 struct {
	UserID string `json:"user_id"`
	Profile
}

// UsernameClaimedV1 reserves a name for a user.
type UsernameClaimedV1 struct {
	Username string `json:"username"` // as the user typed it
	UserID   string `json:"user_id"`
}

// UsernameReleasedV1 frees a name.
type UsernameReleasedV1 struct {
	Username string `json:"username"`
	UserID   string `json:"user_id"`
	Reason   string `json:"reason"` // renamed, abandoned_claim
}

// Release reasons.
const (
	ReleaseRenamed        = "renamed"
	ReleaseAbandonedClaim = "abandoned_claim"
)

// SessionStartedV1 records a sign-in. The token itself is never stored,
// only its SHA-256 digest.
type SessionStartedV1 struct {
	SessionID   string    `json:"session_id"`
	UserID      string    `json:"user_id"`
	TokenDigest string    `json:"token_digest"` // hex SHA-256 of the secret part
	ExpiresAt   time.Time `json:"expires_at"`
}

// SessionEndedV1 records a sign-out or revocation.
type SessionEndedV1 struct {
	SessionID string `json:"session_id"`
	UserID    string `json:"user_id"`
	Reason    string `json:"reason"` // signed_out, revoked
}
