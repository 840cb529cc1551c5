package projections

import (
	"encoding/json"

	"github.com/accountd/accountd/events"
)

// UsernamesProjector maps each case-folded username to its holder, keyed by
// the name and guarded by $all position. A released name keeps its
// document with held=false, so a redelivered older claim cannot revive it.
func UsernamesProjector() Projector {
	return Projector{Name: "usernames", Categories: []string{events.UsernameCategory}, Reduce: reduceUsername}
}

func reduceUsername(e events.Envelope) ([]Write, error) {
	name := e.Stream[len(events.UsernameCategory)+1:]
	switch e.Type {
	case events.UsernameClaimed:
		var p events.UsernameClaimedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, unreadable(e, err)
		}
		return []Write{{Collection: UsernamesCollection, ID: name, Version: e.Position, Set: map[string]any{
			"username": p.Username, "user_id": p.UserID, "held": true,
		}}}, nil
	case events.UsernameReleased:
		var p events.UsernameReleasedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, unreadable(e, err)
		}
		return []Write{{Collection: UsernamesCollection, ID: name, Version: e.Position, Set: map[string]any{
			"user_id": "", "held": false,
		}}}, nil
	}
	return nil, nil
}
