package projections

import "github.com/accountd/accountd/events"

// CredentialsCollection holds the users' service credentials.
const CredentialsCollection = "user_credentials"

// UserCredentialsDoc holds one user's service credentials, keyed by user
// id and guarded by $all position. It never holds a secret: only that one
// is set and when it last changed.
type UserCredentialsDoc struct {
	ID          string                   `bson:"_id,omitempty"`
	Version     int64                    `bson:"_v,omitempty"`
	Credentials map[string]CredentialDoc `bson:"credentials,omitempty"`
}

// CredentialDoc is one credential.
type CredentialDoc struct {
	Service         string `bson:"service,omitempty"`
	URL             string `bson:"url,omitempty"`
	Username        string `bson:"username,omitempty"`
	Note            string `bson:"note,omitempty"`
	SecretSet       bool   `bson:"secret_set,omitempty"`
	SecretChangedAt string `bson:"secret_changed_at,omitempty"`
	ExpiresAt       string `bson:"expires_at,omitempty"`
	ProvisionedBy   string `bson:"provisioned_by,omitempty"`
	CreatedAt       string `bson:"created_at,omitempty"`
	UpdatedAt       string `bson:"updated_at,omitempty"`
	LastRevealedAt  string `bson:"last_revealed_at,omitempty"`
}

// CredentialsProjector keeps the user_credentials collection. It reads the
// service, URL, account name and note in plaintext (Personal): the
// account's deletion deletes its credentials, which removes them from the
// document.
func CredentialsProjector() Projector {
	return Projector{Name: "credentials", Categories: []string{events.CredentialsCategory}, Collections: []string{CredentialsCollection},
		Personal: true, Reduce: reduceCredential}
}

func reduceCredential(e events.Recorded) ([]Write, error) {
	userID, at := events.StreamID(e.Stream), stamp(e.Metadata.Time)
	var id string
	var doc CredentialDoc
	var cleared []string
	switch p := e.Payload.(type) {
	case events.CredentialCreatedV1:
		id = p.CredentialID
		doc = CredentialDoc{Service: p.Service, URL: p.URL, Username: p.Username, Note: p.Note, SecretSet: p.Secret != "",
			SecretChangedAt: at, ProvisionedBy: p.ProvisionedBy, CreatedAt: at, UpdatedAt: at}
		if p.ExpiresAt != nil {
			doc.ExpiresAt = stamp(*p.ExpiresAt)
		}
	case events.CredentialUpdatedV1:
		id = p.CredentialID
		doc = CredentialDoc{Service: events.Value(p.Service), URL: events.Value(p.URL), Username: events.Value(p.Username), Note: events.Value(p.Note), UpdatedAt: at}
		if p.Secret != nil {
			doc.SecretSet, doc.SecretChangedAt = true, at
		}
		if p.ExpiresAt != nil {
			doc.ExpiresAt = stamp(*p.ExpiresAt)
		}
		if p.ClearExpiry {
			cleared = append(cleared, "expires_at")
		}
		if p.Username != nil && *p.Username == "" {
			cleared = append(cleared, "username")
		}
		if p.Note != nil && *p.Note == "" {
			cleared = append(cleared, "note")
		}
	case events.CredentialRevealedV1:
		id, doc = p.CredentialID, CredentialDoc{LastRevealedAt: at}
	case events.CredentialDeletedV1:
		return []Write{{Collection: CredentialsCollection, ID: userID, Version: e.Position, Set: map[string]any{"credentials." + p.CredentialID: Removal{}}}}, nil
	default:
		return nil, nil
	}
	set, err := under("credentials."+id, doc)
	if err != nil {
		return nil, err
	}
	for _, f := range cleared {
		set["credentials."+id+"."+f] = Removal{}
	}
	return []Write{{Collection: CredentialsCollection, ID: userID, Version: e.Position, Set: set}}, nil
}
