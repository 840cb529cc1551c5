package events

import "strings"

// Personal data in events (e-mail, full name, description, picture bytes,
// credential secrets, and every free text the user typed: token titles,
// credentials' service, URL, account name and note, and the notification
// parameters taken from them; and the employee ID and department an admin
// typed) is stored encrypted with a key of the user's own,
// kept outside the log: deleting the account destroys the key, and the
// data becomes unreadable although the log is immutable (crypto-shredding).
// A payload with such fields implements Personal; an encrypted value is a
// string starting with SealedPrefix. Values written before encryption are
// plaintext and read as they are.

// SealedPrefix marks an encrypted value.
const SealedPrefix = "enc:v1:"

// Sealed says whether a value is encrypted.
func Sealed(v string) bool { return strings.HasPrefix(v, SealedPrefix) }

// Personal is a payload with personal fields. MapPersonal returns a copy
// with each personal value replaced by f(aad, value): aad names the value
// (owner and field), so that a ciphertext cannot be moved to another field
// or account.
type Personal interface {
	Payload
	MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error)
}

func mapString(v *string, aad string, f func(aad, value string) (string, error)) (*string, error) {
	if v == nil || *v == "" {
		return v, nil
	}
	out, err := f(aad, *v)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ProfileAAD names a sealed profile field of owner ("email", or
// "previous.email" for the value an update replaced).
func ProfileAAD(owner, field string) string { return "user:" + owner + ":" + field }

// mapPersonal seals (or opens) the fields the table marks personal.
func (p Profile) mapPersonal(owner, prefix string, f func(aad, value string) (string, error)) (Profile, error) {
	out := make(Profile, len(p))
	for name, v := range p {
		if field, ok := ProfileFieldNamed(name); ok && field.Personal && v != "" {
			var err error
			if v, err = f(ProfileAAD(owner, prefix+name), v); err != nil {
				return p, err
			}
		}
		out[name] = v
	}
	return out, nil
}

// MapPersonal implements Personal.
func (p UserRegisteredV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	var err error
	p.Profile, err = p.Profile.mapPersonal(owner, "", f)
	return p, err
}

// MapPersonal implements Personal.
func (p UserProfileUpdatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	var err error
	if p.Profile, err = p.Profile.mapPersonal(owner, "", f); err != nil {
		return p, err
	}
	if p.Previous != nil {
		prev, err := p.Previous.mapPersonal(owner, "previous.", f)
		if err != nil {
			return p, err
		}
		p.Previous = &prev
	}
	return p, nil
}

// MapPersonal implements Personal: the employee ID and department an admin
// typed are the account's personal data too (sealed as profile fields, so
// the audit log opens them as it opens a profile change).
func (p UserAdminFieldsUpdatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	var err error
	if p.EmployeeID, err = mapString(p.EmployeeID, ProfileAAD(owner, "employee_id"), f); err != nil {
		return p, err
	}
	p.Department, err = mapString(p.Department, ProfileAAD(owner, "department"), f)
	return p, err
}

// Owner is the account whose personal data a stream holds ("" for none):
// the key its personal fields are sealed with.
func Owner(stream string) string {
	switch Category(stream) {
	case UserCategory, TokensCategory, CredentialsCategory, PicturesCategory, InboxCategory:
		return StreamID(stream)
	}
	return ""
}
