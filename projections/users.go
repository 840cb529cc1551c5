package projections

import "github.com/accountd/accountd/events"

// UserDoc is one account's document in the users collection, keyed by user
// id and guarded by the user stream's revision + 1. It serves the owner's
// profile and, through Public, the public one: one write per event, which
// matters on the embedded database where every write is an fsync.
type UserDoc struct {
	ID             string `bson:"_id,omitempty"`
	Version        int64  `bson:"_v,omitempty"`
	Username       string `bson:"username,omitempty"`
	events.Profile `bson:",inline"`
	PictureURL     string `bson:"picture_url,omitempty"`
	RegisteredAt   string `bson:"registered_at,omitempty"` // RFC 3339, UTC
	UpdatedAt      string `bson:"updated_at,omitempty"`
}

// Revision is the user stream revision the document reflects (the ETag).
func (d UserDoc) Revision() uint64 { return uint64(max(d.Version-1, 0)) }

// PublicProfile is what anyone may see of an account.
type PublicProfile struct {
	Username    string
	FullName    string
	Description string
	PictureURL  string
}

// Public is the part of the document anyone may see.
func (d UserDoc) Public() PublicProfile {
	return PublicProfile{Username: d.Username, FullName: events.Value(d.FullName), Description: events.Value(d.Description), PictureURL: d.PictureURL}
}

// UsersProjector keeps the users collection.
func UsersProjector() Projector {
	return Projector{Name: "users", Categories: []string{events.UserCategory}, Collections: []string{UsersCollection}, Personal: true, Reduce: reduceUser}
}

func reduceUser(e events.Recorded) ([]Write, error) {
	doc := UserDoc{UpdatedAt: stamp(e.Metadata.Time)}
	switch p := e.Payload.(type) {
	case events.UserRegisteredV1:
		doc.Username, doc.Profile, doc.RegisteredAt = p.Username, p.Profile, doc.UpdatedAt
	case events.UserRenamedV1:
		doc.Username = p.NewUsername
	case events.UserProfileUpdatedV1:
		doc.Profile = p.Profile
	default:
		// Not a profile change (a password change): the document only
		// moves to the stream's revision, which is its ETag.
		return write(UsersCollection, events.StreamID(e.Stream), e.Revision+1, UserDoc{})
	}
	return write(UsersCollection, events.StreamID(e.Stream), e.Revision+1, doc)
}
