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

// fields lists the profile's fields with their JSON names, so that Merge,
// ChangesFrom, Before and Named cover every field without repeating it.
func (p *Profile) fields() []**string {
	out := []**string{}
	for _, f := range p.named() {
		out = append(out, f.ptr)
	}
	return out
}

type namedField struct {
	name string
	ptr  **string
}

func (p *Profile) named() []namedField {
	return []namedField{{"email", &p.Email}, {"full_name", &p.FullName}, {"description", &p.Description},
		{"preferred_language", &p.PreferredLanguage}, {"preferred_timezone", &p.PreferredTimezone}}
}

// Named calls f for each field, in a stable order, with its JSON name.
func (p Profile) Named(f func(name string, value *string)) {
	for _, n := range p.named() {
		f(n.name, *n.ptr)
	}
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

// Before is current's values ("" for unset) of the fields p sets: what a
// change replaces.
func (p Profile) Before(current Profile) Profile {
	var out Profile
	dst, set, cur := out.fields(), p.fields(), current.fields()
	for i := range set {
		if *set[i] != nil {
			v := Value(*cur[i])
			*dst[i] = &v
		}
	}
	return out
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

// UserProfileUpdatedV1 carries only the fields that changed, and what they
// were before (for the audit log; absent in events written before it was
// recorded).
type UserProfileUpdatedV1 struct {
	UserID string `json:"user_id"`
	Profile
	Previous *Profile `json:"previous,omitempty"`
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
