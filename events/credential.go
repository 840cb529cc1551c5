package events

import "time"

// A user's service credentials (for the external services the platform
// integrates with) share one stream, credentials-<user id>. Everything the
// user typed (service, URL, account name, note) and the secret are sealed
// with the owner's data key, bound to the credential id and the field.

// CredentialCreatedV1 records a new credential.
type CredentialCreatedV1 struct {
	CredentialID  string     `json:"credential_id"`
	UserID        string     `json:"user_id"`
	Service       string     `json:"service"`
	URL           string     `json:"url"`
	Username      string     `json:"username"`
	Secret        string     `json:"secret"`
	Note          string     `json:"note,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	ProvisionedBy string     `json:"provisioned_by,omitempty"` // the admin who made it for the user
}

// CredentialUpdatedV1 carries the fields that changed.
type CredentialUpdatedV1 struct {
	CredentialID string     `json:"credential_id"`
	UserID       string     `json:"user_id"`
	Service      *string    `json:"service,omitempty"`
	URL          *string    `json:"url,omitempty"`
	Username     *string    `json:"username,omitempty"`
	Secret       *string    `json:"secret,omitempty"`
	Note         *string    `json:"note,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	ClearExpiry  bool       `json:"clear_expiry,omitempty"`
}

// CredentialDeletedV1 removes a credential.
type CredentialDeletedV1 struct {
	CredentialID string `json:"credential_id"`
	UserID       string `json:"user_id"`
}

// CredentialRevealedV1 records that the secret was shown (audit).
type CredentialRevealedV1 struct {
	CredentialID string `json:"credential_id"`
	UserID       string `json:"user_id"`
}

// CredentialAAD names a sealed field of a service credential.
func CredentialAAD(owner, id, field string) string {
	return "user:" + owner + ":credential:" + id + ":" + field
}

// credentialFields are the sealed fields, by their JSON names.
var credentialFields = []string{"service", "url", "username", "secret", "note"}

// MapPersonal implements Personal: the secret and what the user typed
// (service, URL, account name, note).
func (p CredentialCreatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	for i, v := range []*string{&p.Service, &p.URL, &p.Username, &p.Secret, &p.Note} {
		out, err := mapString(v, CredentialAAD(owner, p.CredentialID, credentialFields[i]), f)
		if err != nil {
			return p, err
		}
		*v = *out
	}
	return p, nil
}

// MapPersonal implements Personal.
func (p CredentialUpdatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	var err error
	for i, v := range []**string{&p.Service, &p.URL, &p.Username, &p.Secret, &p.Note} {
		if *v, err = mapString(*v, CredentialAAD(owner, p.CredentialID, credentialFields[i]), f); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (CredentialCreatedV1) EventType() string  { return CredentialCreated }
func (CredentialUpdatedV1) EventType() string  { return CredentialUpdated }
func (CredentialDeletedV1) EventType() string  { return CredentialDeleted }
func (CredentialRevealedV1) EventType() string { return CredentialRevealed }
