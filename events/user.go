package events

// Value is a field's value, "" when unset.
func Value(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// UserRegisteredV1 opens a user stream.
type UserRegisteredV1 struct {
	UserID       string     `json:"user_id"`
	Username     string     `json:"username"`
	PasswordHash string     `json:"password_hash"` // argon2id PHC string, never the password
	Profile      `json:"-"` // inline (MarshalJSON)
}

// UserRenamedV1 records a username change; the old name is released.
type UserRenamedV1 struct {
	UserID      string `json:"user_id"`
	OldUsername string `json:"old_username"`
	NewUsername string `json:"new_username"`
}

// UserProfileUpdatedV1 carries only the fields that changed, and what they
// were before (for the audit log; absent in events written before it was
// recorded).
type UserProfileUpdatedV1 struct {
	UserID   string     `json:"user_id"`
	Profile  `json:"-"` // inline (MarshalJSON)
	Previous *Profile   `json:"previous,omitempty"`
}

// UserPasswordChangedV1 carries only the new argon2id PHC string. Every
// session but the one the change was made from ends with it.
type UserPasswordChangedV1 struct {
	UserID        string `json:"user_id"`
	PasswordHash  string `json:"password_hash"`
	KeptSessionID string `json:"kept_session_id,omitempty"`
}

func (UserPasswordChangedV1) EventType() string { return UserPasswordChanged }

func (UserRegisteredV1) EventType() string     { return UserRegistered }
func (UserRenamedV1) EventType() string        { return UserRenamed }
func (UserProfileUpdatedV1) EventType() string { return UserProfileUpdated }
