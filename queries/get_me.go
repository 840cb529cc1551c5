package queries

import (
	"context"
	"time"

	"github.com/accountd/accountd/projections"
)

// Me is the signed-in user's own profile.
type Me struct {
	ID                string    `bson:"_id"`
	Username          string    `bson:"username"`
	Email             string    `bson:"email"`
	FullName          string    `bson:"full_name"`
	Description       string    `bson:"description"`
	PreferredLanguage string    `bson:"preferred_language"`
	PreferredTimezone string    `bson:"preferred_timezone"`
	RegisteredAt      time.Time `bson:"-"`
	UpdatedAt         time.Time `bson:"-"`
	Version           int64     `bson:"_v"` // stream revision + 1

	RegisteredAtText string `bson:"registered_at"`
	UpdatedAtText    string `bson:"updated_at"`
}

// Revision is the user stream revision the document reflects (the ETag).
func (m Me) Revision() uint64 { return uint64(m.Version - 1) }

// GetMe reads the user's private profile.
func (r *Reader) GetMe(ctx context.Context, userID string, seen Seen) (Me, error) {
	r.wait(ctx, seen, projections.UsersProjector().Name)
	var me Me
	if err := r.findByID(ctx, projections.UsersCollection, userID, &me); err != nil {
		return Me{}, err
	}
	me.RegisteredAt, _ = time.Parse(time.RFC3339Nano, me.RegisteredAtText)
	me.UpdatedAt, _ = time.Parse(time.RFC3339Nano, me.UpdatedAtText)
	return me, nil
}
