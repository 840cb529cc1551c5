package projections

import "github.com/accountd/accountd/events"

// UsernameDoc maps one case-folded username to its holder, keyed by the
// name and guarded by $all position. A released name keeps its document
// with held=false, so a redelivered older claim cannot revive it.
type UsernameDoc struct {
	ID       string `bson:"_id,omitempty"`
	Version  int64  `bson:"_v,omitempty"`
	Username string `bson:"username,omitempty"` // as typed by the holder
	UserID   string `bson:"user_id"`
	Held     bool   `bson:"held"`
}

// UsernamesProjector keeps the usernames collection.
func UsernamesProjector() Projector {
	return Projector{Name: "usernames", Categories: []string{events.UsernameCategory}, Collections: []string{UsernamesCollection}, Reduce: reduceUsername}
}

func reduceUsername(e events.Recorded) ([]Write, error) {
	var doc UsernameDoc
	switch p := e.Payload.(type) {
	case events.UsernameClaimedV1:
		doc = UsernameDoc{Username: p.Username, UserID: p.UserID, Held: true}
	case events.UsernameReleasedV1:
		doc = UsernameDoc{}
	default:
		return nil, nil
	}
	return write(UsernamesCollection, events.StreamID(e.Stream), e.Position, doc)
}
