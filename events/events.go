// Package events defines the account service's events: explicit, stable
// past-tense type names, their Go payload types, the one registry that maps
// each name to its type, and the metadata every event carries. Payloads
// evolve only by adding optional fields; a change of meaning is a new type.
// It imports nothing internal.
package events

import (
	"time"

	"github.com/google/uuid"
)

// Payload is an event's data. Each payload type names its own stable type
// string; the registry (registry.go) maps the string back to the type.
type Payload interface {
	EventType() string
}

// Recorded is an event read back from the log, decoded once.
type Recorded struct {
	ID       uuid.UUID
	Stream   string
	Revision uint64
	Position uint64 // $all commit position
	Type     string
	Payload  Payload
	Metadata Metadata
}

// Stream categories; a stream is "<category>-<id>".
const (
	UserCategory        = "user"
	UsernameCategory    = "username"
	SessionCategory     = "session"
	TokensCategory      = "tokens"
	CredentialsCategory = "credentials"
	PicturesCategory    = "pictures"
	InboxCategory       = "inbox"
	ConfigCategory      = "config"
)

// CredentialsStream is the stream of one user's service credentials.
func CredentialsStream(userID string) string { return CredentialsCategory + "-" + userID }

// PicturesStream is the stream of one user's profile pictures.
func PicturesStream(userID string) string { return PicturesCategory + "-" + userID }

// InboxStream is the stream of one user's notifications.
func InboxStream(userID string) string { return InboxCategory + "-" + userID }

// UserStream is the stream of one account.
func UserStream(userID string) string { return UserCategory + "-" + userID }

// UsernameStream is the reservation stream of a username, case-folded so
// that names differing only in case share one reservation.
func UsernameStream(canonicalName string) string { return UsernameCategory + "-" + canonicalName }

// SessionStream is the stream of one sign-in session.
func SessionStream(sessionID string) string { return SessionCategory + "-" + sessionID }

// TokensStream is the stream of one user's personal access tokens.
func TokensStream(userID string) string { return TokensCategory + "-" + userID }

// Category is the part of a stream name before the first "-".
func Category(stream string) string {
	for i := 0; i < len(stream); i++ {
		if stream[i] == '-' {
			return stream[:i]
		}
	}
	return stream
}

// StreamID is the part of a stream name after the first "-".
func StreamID(stream string) string {
	for i := 0; i < len(stream); i++ {
		if stream[i] == '-' {
			return stream[i+1:]
		}
	}
	return ""
}

// SchemaVersion is the metadata schema version written with every event.
const SchemaVersion = 1

// Actors that are not users.
const (
	ActorAnonymous = "anonymous"
	ActorSystem    = "system"
)

// Metadata travels as each event's EventStoreDB custom metadata.
type Metadata struct {
	SchemaVersion int       `json:"schema_version"`
	Actor         string    `json:"actor,omitempty"` // user id, or "anonymous" / "system"
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id"`
	ClientIP      string    `json:"client_ip,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	Time          time.Time `json:"time"`
	// The credential the actor used: "session" or "token", and its id.
	CredentialKind string `json:"credential_kind,omitempty"`
	CredentialID   string `json:"credential_id,omitempty"`
}
