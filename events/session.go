package events

import "time"

// SessionStartedV1 records a sign-in. The token itself is never stored,
// only its SHA-256 digest.
type SessionStartedV1 struct {
	SessionID   string    `json:"session_id"`
	UserID      string    `json:"user_id"`
	TokenDigest string    `json:"token_digest"` // hex SHA-256 of the secret part
	ExpiresAt   time.Time `json:"expires_at"`
	// Channel is ChannelBrowser for a web console session, which lives in a
	// cookie and is refused as a bearer token (so the console's
	// re-authentication cannot be gone around through the API); "" for an
	// API session. Added later: older sessions are API sessions.
	Channel string `json:"channel,omitempty"`
}

// ChannelBrowser marks a session started by the web console.
const ChannelBrowser = "browser"

// SessionEndedV1 records a sign-out or revocation.
type SessionEndedV1 struct {
	SessionID string `json:"session_id"`
	UserID    string `json:"user_id"`
	Reason    string `json:"reason"` // signed_out, revoked
}

// SessionSeenV1 records that a session was used, at most once a minute.
type SessionSeenV1 struct {
	SessionID string    `json:"session_id"`
	UserID    string    `json:"user_id"`
	At        time.Time `json:"at"`
}

// Session end reasons.
const (
	SessionSignedOut       = "signed_out"
	SessionRevoked         = "revoked"
	SessionPasswordChanged = "password_changed"
	SessionAccountDisabled = "account_disabled"
	SessionAccountDeleted  = "account_deleted"
)

func (SessionSeenV1) EventType() string { return SessionSeen }

func (SessionStartedV1) EventType() string { return SessionStarted }
func (SessionEndedV1) EventType() string   { return SessionEnded }
