package queries

import (
	"context"
	"strings"

	"github.com/accountd/accountd/projections"
)

// GetProfile finds the account that carries username now. A released or
// merely claimed name has no profile. callerID ("" for anonymous callers)
// sees their own renames at once. A disabled or deleted account has none
// (as the Standings port says: the API and console ask nothing else).
func (r *Reader) GetProfile(ctx context.Context, callerID, username string) (projections.PublicProfile, error) {
	r.waitForCaller(ctx, callerID, projections.UsernamesProjector().Name, projections.UsersProjector().Name)
	name := strings.ToLower(username)
	var holder projections.UsernameDoc
	if err := r.findByID(ctx, projections.UsernamesCollection, name, &holder); err != nil {
		return projections.PublicProfile{}, err
	}
	if !holder.Held {
		return projections.PublicProfile{}, ErrNotFound
	}
	var doc projections.UserDoc
	if err := r.findByID(ctx, projections.UsersCollection, holder.UserID, &doc); err != nil {
		return projections.PublicProfile{}, err
	}
	if r.Standing(doc) != projections.StandingActive {
		return projections.PublicProfile{}, ErrNotFound // shown to admins only
	}
	if strings.ToLower(doc.Username) != name {
		return projections.PublicProfile{}, ErrNotFound // a claim whose rename has not (or never) happened
	}
	return doc.Public(), nil
}
