package events

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Event types. These strings are stored forever: never rename one.
const (
	UserRegistered      = "user.registered"
	UserRenamed         = "user.renamed"
	UserProfileUpdated  = "user.profile_updated"
	UserPasswordChanged = "user.password_changed"
	UsernameClaimed     = "username.claimed"
	UsernameReleased    = "username.released"
	SessionStarted      = "session.started"
	SessionEnded        = "session.ended"
	SessionSeen         = "session.seen"
	TokenCreated        = "token.created"
	TokenUpdated        = "token.updated"
	TokenRotated        = "token.rotated"
	TokenRevoked        = "token.revoked"
	TokenDeleted        = "token.deleted"
	TokenReuseDetected  = "token.reuse_detected"
	TokenUsed           = "token.used"

	UserRoleGranted        = "user.role_granted"
	UserRoleRevoked        = "user.role_revoked"
	UserAdminFieldsUpdated = "user.admin_fields_updated"
	UserDisabled           = "user.disabled"
	UserEnabled            = "user.enabled"
	UserDeleted            = "user.deleted"
	UserPictureChanged     = "user.picture_changed"
	PictureStored          = "picture.stored"

	CredentialCreated  = "credential.created"
	CredentialUpdated  = "credential.updated"
	CredentialDeleted  = "credential.deleted"
	CredentialRevealed = "credential.revealed"

	NotificationPreferencesSet = "notification.preferences_set"
	NotificationRaised         = "notification.raised"
	NotificationsRead          = "notification.read"
	NotificationEmailed        = "notification.emailed"
	NotificationEmailFailed    = "notification.email_failed"

	ConfiguredAdminResolved = "config.admin_resolved"

	RoleHoldersFound = "role.holders_found"
	RoleGranted      = "role.granted"
	RoleRevoked      = "role.revoked"
)

// Types lists every event type the service knows, in a stable order.
func Types() []string {
	return []string{
		UserRegistered, UserRenamed, UserProfileUpdated, UserPasswordChanged,
		UsernameClaimed, UsernameReleased,
		SessionStarted, SessionEnded, SessionSeen,
		TokenCreated, TokenUpdated, TokenRotated, TokenRevoked, TokenDeleted, TokenReuseDetected, TokenUsed,
		UserRoleGranted, UserRoleRevoked, UserAdminFieldsUpdated, UserDisabled, UserEnabled, UserDeleted,
		UserPictureChanged, PictureStored,
		CredentialCreated, CredentialUpdated, CredentialDeleted, CredentialRevealed,
		NotificationPreferencesSet, NotificationRaised, NotificationsRead, NotificationEmailed,
		NotificationEmailFailed,
		ConfiguredAdminResolved,
		RoleHoldersFound, RoleGranted, RoleRevoked,
	}
}

// Decode is the one place a stored type name becomes a Go payload. Folds,
// reducers and followers switch on the returned value's type.
func Decode(eventType string, data []byte) (Payload, error) {
	switch eventType {
	case UserRegistered:
		return decodeAs[UserRegisteredV1](eventType, data)
	case UserRenamed:
		return decodeAs[UserRenamedV1](eventType, data)
	case UserProfileUpdated:
		return decodeAs[UserProfileUpdatedV1](eventType, data)
	case UserPasswordChanged:
		return decodeAs[UserPasswordChangedV1](eventType, data)
	case UsernameClaimed:
		return decodeAs[UsernameClaimedV1](eventType, data)
	case UsernameReleased:
		return decodeAs[UsernameReleasedV1](eventType, data)
	case SessionStarted:
		return decodeAs[SessionStartedV1](eventType, data)
	case SessionEnded:
		return decodeAs[SessionEndedV1](eventType, data)
	case SessionSeen:
		return decodeAs[SessionSeenV1](eventType, data)
	case TokenCreated:
		return decodeAs[TokenCreatedV1](eventType, data)
	case TokenUpdated:
		return decodeAs[TokenUpdatedV1](eventType, data)
	case TokenRotated:
		return decodeAs[TokenRotatedV1](eventType, data)
	case TokenRevoked:
		return decodeAs[TokenRevokedV1](eventType, data)
	case TokenDeleted:
		return decodeAs[TokenDeletedV1](eventType, data)
	case TokenReuseDetected:
		return decodeAs[TokenReuseDetectedV1](eventType, data)
	case TokenUsed:
		return decodeAs[TokenUsedV1](eventType, data)
	case UserRoleGranted:
		return decodeAs[UserRoleGrantedV1](eventType, data)
	case UserRoleRevoked:
		return decodeAs[UserRoleRevokedV1](eventType, data)
	case UserAdminFieldsUpdated:
		return decodeAs[UserAdminFieldsUpdatedV1](eventType, data)
	case UserDisabled:
		return decodeAs[UserDisabledV1](eventType, data)
	case UserEnabled:
		return decodeAs[UserEnabledV1](eventType, data)
	case UserDeleted:
		return decodeAs[UserDeletedV1](eventType, data)
	case UserPictureChanged:
		return decodeAs[UserPictureChangedV1](eventType, data)
	case PictureStored:
		return decodeAs[PictureStoredV1](eventType, data)
	case CredentialCreated:
		return decodeAs[CredentialCreatedV1](eventType, data)
	case CredentialUpdated:
		return decodeAs[CredentialUpdatedV1](eventType, data)
	case CredentialDeleted:
		return decodeAs[CredentialDeletedV1](eventType, data)
	case CredentialRevealed:
		return decodeAs[CredentialRevealedV1](eventType, data)
	case NotificationPreferencesSet:
		return decodeAs[NotificationPreferencesSetV1](eventType, data)
	case NotificationRaised:
		return decodeAs[NotificationRaisedV1](eventType, data)
	case NotificationsRead:
		return decodeAs[NotificationsReadV1](eventType, data)
	case NotificationEmailed:
		return decodeAs[NotificationEmailedV1](eventType, data)
	case NotificationEmailFailed:
		return decodeAs[NotificationEmailFailedV1](eventType, data)
	case ConfiguredAdminResolved:
		return decodeAs[ConfiguredAdminResolvedV1](eventType, data)
	case RoleHoldersFound:
		return decodeAs[RoleHoldersFoundV1](eventType, data)
	case RoleGranted:
		return decodeAs[RoleGrantedV1](eventType, data)
	case RoleRevoked:
		return decodeAs[RoleRevokedV1](eventType, data)
	}
	return nil, &UndecodableError{Type: eventType, Err: errUnknownType}
}

// Encode is a payload's stored form: its type name and JSON.
func Encode(p Payload) (string, []byte, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", p.EventType(), err)
	}
	return p.EventType(), data, nil
}

func decodeAs[T Payload](eventType string, data []byte) (Payload, error) {
	var p T
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, &UndecodableError{Type: eventType, Err: err}
	}
	return p, nil
}

// ErrUndecodable matches every event the service cannot read: an unknown
// type or a broken payload. Projectors park such events.
var ErrUndecodable = errors.New("undecodable event")

var errUnknownType = errors.New("unknown event type")

// UndecodableError says which type could not be read and why.
type UndecodableError struct {
	Type string
	Err  error
}

func (e *UndecodableError) Error() string {
	return fmt.Sprintf("undecodable event %q: %v", e.Type, e.Err)
}

func (e *UndecodableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUndecodable) true.
func (e *UndecodableError) Is(target error) bool { return target == ErrUndecodable }
