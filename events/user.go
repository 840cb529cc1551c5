package events

// Profile holds the editable profile fields. Pointers tell "not given" from
// "cleared" in updates. The same names serve the read model (bson), so a
// new field is declared here once and flows to state, read model and query.
type Profile struct {
	Email             *string `json:"email,omitempty" bson:"email,omitempty"`
	FullName          *string `json:"full_name,omitempty" bson:"full_name,omitempty"`
	Description       *string `json:"description,omitempty" bson:"description,omitempty"`
	PreferredLanguage *string `json:"preferred_language,omitempty" bson:"preferred_language,omitempty"`
	PreferredTimezone *string `json:"preferred_timezone,omitempty" bson:"preferred_timezone,omitempty"`
}

// fields lists the profile's fields, so Merge and ChangesFrom cover every
// field without repeating it.
func (p *Profile) fields() []**string {
	return []**string{&p.Email, &p.FullName, &p.Description, &p.PreferredLanguage, &p.PreferredTimezone}
}

// Merge returns p with every field that change sets.
func (p Profile) Merge(change Profile) Profile {
	dst, src := p.fields(), change.fields()
	for i := range dst {
		if *src[i] != nil {
			v := **src[i]
			*dst[i] = &v
		}
	}
	return p
}

// ChangesFrom keeps the fields of p that differ from current (where an
// unset field counts as ""), and says whether any did.
func (p Profile) ChangesFrom(current Profile) (Profile, bool) {
	var out Profile
	dst, src, cur := out.fields(), p.fields(), current.fields()
	changed := false
	for i := range src {
		if *src[i] != nil && **src[i] != Value(*cur[i]) {
			v := **src[i]
			*dst[i] = &v
			changed = true
		}
	}
	return out, changed
}

// Value is a field's value, "" when unset.
func Value(v *string) string {
	if v == nil {
		return ""
	}
	return *v
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
