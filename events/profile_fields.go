package events

import (
	"encoding/json"
	"slices"
)

// ProfileField declares one profile field, once: sealing, erasure,
// validation, the API's request and response, the admin view, the console
// form, the security log and the OpenAPI schema (checked by a test) all
// follow this table. A new field is one row here, its label in both
// catalogs, and its property in openapi.json.
type ProfileField struct {
	// Name is the field's JSON name in events and the API, its BSON name in
	// the read model, and its name in the console form.
	Name string
	// Personal: sealed with the account's data key in the log, and erased
	// from the read model when the account is deleted.
	Personal bool
	// Public: on the public profile, for anyone to see.
	Public bool
	// AdminOnly: only an admin may change it (the user reads it).
	AdminOnly bool
	Rule      FieldRule
	// Label is the catalog key of the field's name, as the console form
	// and the security log show it.
	Label string
}

// FieldRule is how a field's value is checked (package commands applies
// it); an empty value always clears the field.
type FieldRule struct {
	Kind FieldKind
	// MaxLength in characters (0: the kind's own limit).
	MaxLength int
	// MultiLine: line breaks allowed (and normalised to \n).
	MultiLine bool
}

// FieldKind is what a field holds.
type FieldKind string

// The kinds of field.
const (
	KindText     FieldKind = "text"
	KindEmail    FieldKind = "email"
	KindLanguage FieldKind = "language" // a BCP 47 tag, canonicalised
	KindTimezone FieldKind = "timezone" // an IANA zone name
)

// Names of the fields that code reads for their meaning (mail goes to the
// e-mail, pages are in the language, times in the zone).
const (
	FieldEmail             = "email"
	FieldFullName          = "full_name"
	FieldDescription       = "description"
	FieldPreferredLanguage = "preferred_language"
	FieldPreferredTimezone = "preferred_timezone"
)

// ProfileFields is the table, in the order forms and responses show the
// fields. Tests may append a row for the test's duration (never while
// another test runs a service).
var ProfileFields = []ProfileField{
	{Name: FieldEmail, Personal: true, Rule: FieldRule{Kind: KindEmail}, Label: "ui.field.email"},
	{Name: FieldFullName, Personal: true, Public: true, Rule: FieldRule{Kind: KindText, MaxLength: 200}, Label: "ui.field.full_name"},
	{Name: FieldDescription, Personal: true, Public: true, Rule: FieldRule{Kind: KindText, MaxLength: 1000, MultiLine: true}, Label: "ui.field.description"},
	{Name: FieldPreferredLanguage, Rule: FieldRule{Kind: KindLanguage}, Label: "ui.field.preferred_language"},
	{Name: FieldPreferredTimezone, Rule: FieldRule{Kind: KindTimezone}, Label: "ui.field.preferred_timezone"},
	{Name: "pronouns", Personal: true, Rule: FieldRule{Kind: KindText, MaxLength: 40}, Label: "ui.field.pronouns"},
}

// ProfileFieldNamed finds a field of the table.
func ProfileFieldNamed(name string) (ProfileField, bool) {
	i := slices.IndexFunc(ProfileFields, func(f ProfileField) bool { return f.Name == name })
	if i < 0 {
		return ProfileField{}, false
	}
	return ProfileFields[i], true
}

// Profile holds profile fields by name. A change names the fields to set
// ("" clears one); a state or document holds every field ever set. Only
// fields of the table are read from events.
type Profile map[string]string

// Get is a field's value, "" when unset.
func (p Profile) Get(name string) string { return p[name] }

// Given is a field's value and whether it is set (in a change: given).
func (p Profile) Given(name string) (string, bool) {
	v, ok := p[name]
	return v, ok
}

// Named calls f for each field of the table that p sets, in the table's
// order.
func (p Profile) Named(f func(name, value string)) {
	for _, field := range ProfileFields {
		if v, ok := p[field.Name]; ok {
			f(field.Name, v)
		}
	}
}

// Merge returns a copy of p with every field that change sets.
func (p Profile) Merge(change Profile) Profile {
	out := make(Profile, len(p)+len(change))
	for k, v := range p {
		out[k] = v
	}
	for k, v := range change {
		out[k] = v
	}
	return out
}

// ChangesFrom keeps the fields of p that differ from current (where an
// unset field counts as ""), and says whether any did.
func (p Profile) ChangesFrom(current Profile) (Profile, bool) {
	out := Profile{}
	for k, v := range p {
		if v != current[k] {
			out[k] = v
		}
	}
	return out, len(out) > 0
}

// Before is current's values ("" for unset) of the fields p sets: what a
// change replaces.
func (p Profile) Before(current Profile) Profile {
	out := Profile{}
	for k := range p {
		out[k] = current[k]
	}
	return out
}

// profileJSON writes v (a payload's own fields, marshalled by its alias
// type) with p's fields beside them, as an embedded struct would.
func profileJSON(v any, p Profile) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil || len(p) == 0 {
		return raw, err
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	for k, value := range p {
		if out[k], err = json.Marshal(value); err != nil {
			return nil, err
		}
	}
	return json.Marshal(out)
}

// readProfile reads the table's fields from a payload's JSON (absent or
// null: not given).
func readProfile(data []byte) (Profile, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, err
	}
	p := Profile{}
	for _, f := range ProfileFields {
		var v *string
		if raw, ok := all[f.Name]; ok {
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
		}
		if v != nil {
			p[f.Name] = *v
		}
	}
	return p, nil
}

// MarshalJSON writes the profile fields inline.
func (p UserRegisteredV1) MarshalJSON() ([]byte, error) {
	type own UserRegisteredV1
	return profileJSON(own(p), p.Profile)
}

// UnmarshalJSON reads the profile fields inline.
func (p *UserRegisteredV1) UnmarshalJSON(data []byte) error {
	type own UserRegisteredV1
	if err := json.Unmarshal(data, (*own)(p)); err != nil {
		return err
	}
	var err error
	p.Profile, err = readProfile(data)
	return err
}

// MarshalJSON writes the profile fields inline.
func (p UserProfileUpdatedV1) MarshalJSON() ([]byte, error) {
	type own UserProfileUpdatedV1
	return profileJSON(own(p), p.Profile)
}

// UnmarshalJSON reads the profile fields inline.
func (p *UserProfileUpdatedV1) UnmarshalJSON(data []byte) error {
	type own UserProfileUpdatedV1
	if err := json.Unmarshal(data, (*own)(p)); err != nil {
		return err
	}
	var err error
	p.Profile, err = readProfile(data)
	return err
}
