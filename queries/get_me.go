package queries

import (
	"context"
	"errors"
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

// GetMe reads the user's private profile. With atLeast, it waits (within
// ctx) for the read model to reach that revision of the account, which the
// command side knows even across restarts.
func (r *Reader) GetMe(ctx context.Context, userID string, seen Seen, atLeast *uint64) (Me, error) {
	r.wait(ctx, seen, projections.UsersProjector().Name)
	var me Me
	for {
		var changed <-chan struct{}
		if r.progress != nil {
			changed = r.progress.Changed()
		}
		err := r.findByID(ctx, projections.UsersCollection, userID, &me)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Me{}, err
		}
		if atLeast == nil || (err == nil && me.Revision() >= *atLeast) || changed == nil {
			if err != nil {
				return Me{}, err
			}
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if err != nil {
				return Me{}, err
			}
			return me.parsed(), nil // the best there is; its ETag says how old
		}
	}
	return me.parsed(), nil
}

func (me Me) parsed() Me {
	me.RegisteredAt, _ = time.Parse(time.RFC3339Nano, me.RegisteredAtText)
	me.UpdatedAt, _ = time.Parse(time.RFC3339Nano, me.UpdatedAtText)
	return me
}
