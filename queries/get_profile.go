package queries

import (
	"context"
	"strings"

	"github.com/accountd/accountd/projections"
)

// PublicProfile is what anyone may see of an account.
type PublicProfile struct {
	Username    string `bson:"username"`
	FullName    string `bson:"full_name"`
	Description string `bson:"description"`
	PictureURL  string `bson:"picture_url"`
}

// GetProfile finds the account that carries username now. A released or
// merely claimed name has no profile.
func (r *Reader) GetProfile(ctx context.Context, username string, seen Seen) (PublicProfile, error) {
	r.wait(ctx, seen, projections.UsernamesProjector().Name, projections.UsersProjector().Name)
	name := strings.ToLower(username)
	var holder struct {
		UserID string `bson:"user_id"`
		Held   bool   `bson:"held"`
	}
	if err := r.findByID(ctx, projections.UsernamesCollection, name, &holder); err != nil {
		return PublicProfile{}, err
	}
	if !holder.Held {
		return PublicProfile{}, ErrNotFound
	}
	var p PublicProfile
	if err := r.findByID(ctx, projections.UsersCollection, holder.UserID, &p, projections.PublicFields()...); err != nil {
		return PublicProfile{}, err
	}
	if strings.ToLower(p.Username) != name {
		return PublicProfile{}, ErrNotFound // a claim whose rename has not (or never) happened
	}
	return p, nil
}
