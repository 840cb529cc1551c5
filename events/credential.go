package events

import "time"

// A user's service credentials (for the external services the platform
// integrates with) share one stream, credentials-<user id>. The secret is
// sealed with the owner's data key, bound to the credential id.

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

func credentialAAD(owner, id, field string) string {
	return "user:" + owner + ":credential:" + id + ":" + field
}

// MapPersonal implements Personal: the secret, the account name and the
// note are personal.
func (p CredentialCreatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	for _, field := range []struct {
		name string
		v    *string
	}{{"secret", &p.Secret}, {"username", &p.Username}, {"note", &p.Note}} {
		out, err := mapString(field.v, credentialAAD(owner, p.CredentialID, field.name), f)
		if err != nil {
			return p, err
		}
		*field.v = *out
	}
	return p, nil
}

// MapPersonal implements Personal.
func (p CredentialUpdatedV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	var err error
	for _, field := range []struct {
		name string
		v    **string
	}{{"secret", &p.Secret}, {"username", &p.Username}, {"note", &p.Note}} {
		if *field.v, err = mapString(*field.v, credentialAAD(owner, p.CredentialID, field.name), f); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (CredentialCreatedV1) EventType() string  { return CredentialCreated }
func (CredentialUpdatedV1) EventType() string  { return CredentialUpdated }
func (CredentialDeletedV1) EventType() string  { return CredentialDeleted }
func (CredentialRevealedV1) EventType() string { return CredentialRevealed }
