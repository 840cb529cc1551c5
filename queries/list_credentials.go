package queries

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/accountd/accountd/projections"
)

// Credential is one service credential of a user (never its secret).
type Credential struct {
	ID string
	projections.CredentialDoc
}

// ListCredentials lists the user's service credentials, by service then
// newest first.
func (r *Reader) ListCredentials(ctx context.Context, userID string) ([]Credential, error) {
	r.waitForCaller(ctx, userID, projections.CredentialsProjector().Name)
	var doc projections.UserCredentialsDoc
	if err := r.findByID(ctx, projections.CredentialsCollection, userID, &doc); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out := make([]Credential, 0, len(doc.Credentials))
	for id, c := range doc.Credentials {
		if c.CreatedAt == "" {
			continue // a reveal recorded as the credential was deleted
		}
		out = append(out, Credential{ID: id, CredentialDoc: c})
	}
	slices.SortFunc(out, func(a, b Credential) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// GetCredential reads one service credential of the user.
func (r *Reader) GetCredential(ctx context.Context, userID, id string) (Credential, error) {
	all, err := r.ListCredentials(ctx, userID)
	if err != nil {
		return Credential{}, err
	}
	for _, c := range all {
		if c.ID == id {
			return c, nil
		}
	}
	return Credential{}, ErrNotFound
}
