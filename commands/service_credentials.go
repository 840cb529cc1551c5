package commands

import (
	"errors"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// ErrCredentialNotFound: no such service credential of the user.
var ErrCredentialNotFound = errors.New("service credential not found")

// Limits of service credentials.
const (
	MaxServiceCredentials = 100
	ServiceMaxLength      = 64
	URLMaxLength          = 2048
	AccountNameMaxLength  = 256
	SecretMaxLength       = 4096
	NoteMaxLength         = 1000
)

// ServiceCredential is one credential for an external service (such as
// the version-control server). The secret is here in plaintext: the log
// holds it sealed, and the sealed event log opens it on reading.
type ServiceCredential struct {
	ID, Service, URL, Username, Secret, Note string
	ExpiresAt                                time.Time // zero: never
	ProvisionedBy                            string
	CreatedAt, UpdatedAt, SecretChangedAt    time.Time
}

// ServiceCredentials is the state of one credentials-<user id> stream.
type ServiceCredentials struct {
	byID map[string]ServiceCredential
}

// Get returns one credential.
func (cs ServiceCredentials) Get(id string) (ServiceCredential, bool) {
	c, ok := cs.byID[id]
	return c, ok
}

// foldCredentials applies one past event; the map is copied before it
// changes (states handed out never change).
func foldCredentials(cs ServiceCredentials, e events.Recorded) ServiceCredentials {
	at := e.Metadata.Time
	switch p := e.Payload.(type) {
	case events.CredentialCreatedV1:
		cs.byID = maps.Clone(cs.byID)
		if cs.byID == nil {
			cs.byID = map[string]ServiceCredential{}
		}
		c := ServiceCredential{ID: p.CredentialID, Service: p.Service, URL: p.URL, Username: p.Username, Secret: p.Secret, Note: p.Note,
			ProvisionedBy: p.ProvisionedBy, CreatedAt: at, UpdatedAt: at, SecretChangedAt: at}
		if p.ExpiresAt != nil {
			c.ExpiresAt = *p.ExpiresAt
		}
		cs.byID[p.CredentialID] = c
	case events.CredentialUpdatedV1:
		c, ok := cs.byID[p.CredentialID]
		if !ok {
			return cs
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&c.Service, p.Service)
		set(&c.URL, p.URL)
		set(&c.Username, p.Username)
		set(&c.Note, p.Note)
		if p.Secret != nil {
			c.Secret, c.SecretChangedAt = *p.Secret, at
		}
		if p.ExpiresAt != nil {
			c.ExpiresAt = *p.ExpiresAt
		}
		if p.ClearExpiry {
			c.ExpiresAt = time.Time{}
		}
		c.UpdatedAt = at
		cs.byID = maps.Clone(cs.byID)
		cs.byID[p.CredentialID] = c
	case events.CredentialDeletedV1:
		if _, ok := cs.byID[p.CredentialID]; ok {
			cs.byID = maps.Clone(cs.byID)
			delete(cs.byID, p.CredentialID)
		}
	}
	return cs
}

// CredentialSpec is what a credential is made or changed with; nil leaves
// a field as it is.
type CredentialSpec struct {
	Service, URL, Username, Secret, Note *string
	ExpiresAt                            *time.Time
	ClearExpiry                          bool
}

// validCredential checks the given fields and returns them in canonical
// form (the note's line endings LF); creating requires service, url and
// secret. The secret is taken as given: a key may span lines.
func validCredential(s CredentialSpec, creating bool, now time.Time) (CredentialSpec, []validate.Violation) {
	var vs []validate.Violation
	required := func(field string, v *string) bool {
		if creating && (v == nil || *v == "") {
			vs = append(vs, validate.Violation{Field: field, Code: "request.required"})
			return false
		}
		if v != nil && *v == "" && (field == "service" || field == "url" || field == "secret") {
			vs = append(vs, validate.Violation{Field: field, Code: "request.required"})
			return false
		}
		return v != nil
	}
	if required("service", s.Service) {
		vs = append(vs, validate.SingleLine("service", *s.Service, ServiceMaxLength)...)
	}
	if required("url", s.URL) {
		u, err := url.Parse(*s.URL)
		switch {
		case len(*s.URL) > URLMaxLength:
			vs = append(vs, validate.Violation{Field: "url", Code: "url.too_long", Params: map[string]int{"max": URLMaxLength}})
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh") || u.User != nil,
			strings.IndexFunc(*s.URL, validate.IsLineBreak) >= 0: // url.Parse takes U+2028 and NEL
			vs = append(vs, validate.Violation{Field: "url", Code: "url.invalid"})
		}
	}
	if required("secret", s.Secret) {
		if len(*s.Secret) > SecretMaxLength {
			vs = append(vs, validate.Violation{Field: "secret", Code: "secret.too_long", Params: map[string]int{"max": SecretMaxLength}})
		}
	}
	if s.Username != nil {
		vs = append(vs, validate.SingleLine("username", *s.Username, AccountNameMaxLength)...)
	}
	if s.Note != nil {
		note, nvs := validate.MultiLine("note", *s.Note, NoteMaxLength)
		vs = append(vs, nvs...)
		s.Note = &note
	}
	if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
		vs = append(vs, validate.Violation{Field: "expires_at", Code: "expires_at.past"})
	}
	return s, vs
}

func (cs ServiceCredentials) create(userID, id, provisionedBy string, s CredentialSpec) ([]events.Payload, error) {
	if len(cs.byID) >= MaxServiceCredentials {
		return nil, invalid([]validate.Violation{{Field: "service", Code: "credentials.too_many", Params: map[string]int{"max": MaxServiceCredentials}}})
	}
	e := events.CredentialCreatedV1{CredentialID: id, UserID: userID, Service: *s.Service, URL: *s.URL, Secret: *s.Secret,
		ExpiresAt: s.ExpiresAt, ProvisionedBy: provisionedBy}
	if s.Username != nil {
		e.Username = *s.Username
	}
	if s.Note != nil {
		e.Note = *s.Note
	}
	return []events.Payload{e}, nil
}

// update records the fields that change (a secret given counts as a
// change: it cannot be compared without being shown).
func (cs ServiceCredentials) update(userID, id string, s CredentialSpec) ([]events.Payload, error) {
	c, ok := cs.byID[id]
	if !ok {
		return nil, ErrCredentialNotFound
	}
	e := events.CredentialUpdatedV1{CredentialID: id, UserID: userID}
	changed := false
	diff := func(dst **string, v *string, cur string) {
		if v != nil && *v != cur {
			*dst, changed = v, true
		}
	}
	diff(&e.Service, s.Service, c.Service)
	diff(&e.URL, s.URL, c.URL)
	diff(&e.Username, s.Username, c.Username)
	diff(&e.Note, s.Note, c.Note)
	if s.Secret != nil && *s.Secret != c.Secret {
		e.Secret, changed = s.Secret, true
	}
	if s.ExpiresAt != nil && !s.ExpiresAt.Equal(c.ExpiresAt) {
		e.ExpiresAt, changed = s.ExpiresAt, true
	}
	if s.ClearExpiry && !c.ExpiresAt.IsZero() {
		e.ClearExpiry, changed = true, true
	}
	if !changed {
		return nil, nil
	}
	return []events.Payload{e}, nil
}

func (cs ServiceCredentials) delete(userID, id string) ([]events.Payload, error) {
	if _, ok := cs.byID[id]; !ok {
		return nil, ErrCredentialNotFound
	}
	return []events.Payload{events.CredentialDeletedV1{CredentialID: id, UserID: userID}}, nil
}

func (cs ServiceCredentials) deleteAll(userID string) ([]events.Payload, error) {
	var out []events.Payload
	for id := range cs.byID {
		out = append(out, events.CredentialDeletedV1{CredentialID: id, UserID: userID})
	}
	return out, nil
}

func (cs ServiceCredentials) reveal(userID, id string) ([]events.Payload, error) {
	if _, ok := cs.byID[id]; !ok {
		return nil, ErrCredentialNotFound
	}
	return []events.Payload{events.CredentialRevealedV1{CredentialID: id, UserID: userID}}, nil
}
