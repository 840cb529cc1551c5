package projections

import (
	"encoding/json"
	"time"

	"github.com/accountd/accountd/events"
)

// UsersProjector keeps one document per account, keyed by user id and
// guarded by the user stream's revision. It serves both the owner's profile
// and, through PublicFields, the public one: one write per event, which
// matters on the embedded database where every write is an fsync.
func UsersProjector() Projector {
	return Projector{Name: "users", Categories: []string{events.UserCategory}, Reduce: reduceUser}
}

// PublicFields are the fields of a users document anyone may see.
func PublicFields() []string { return []string{"username", "full_name", "description", "picture_url"} }

func reduceUser(e events.Envelope) ([]Write, error) {
	var meta events.Metadata
	if len(e.Metadata) > 0 {
		if err := json.Unmarshal(e.Metadata, &meta); err != nil {
			return nil, unreadable(e, err)
		}
	}
	set := map[string]any{}
	switch e.Type {
	case events.UserRegistered:
		var p events.UserRegisteredV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, unreadable(e, err)
		}
		set["username"] = p.Username
		set["registered_at"] = meta.Time.UTC().Format(time.RFC3339Nano)
		profileFields(set, p.Profile)
	case events.UserRenamed:
		var p events.UserRenamedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, unreadable(e, err)
		}
		set["username"] = p.NewUsername
	case events.UserProfileUpdated:
		var p events.UserProfileUpdatedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, unreadable(e, err)
		}
		profileFields(set, p.Profile)
	default:
		return nil, nil
	}
	set["updated_at"] = meta.Time.UTC().Format(time.RFC3339Nano)
	return []Write{{Collection: UsersCollection, ID: userID(e.Stream), Version: e.Revision + 1, Set: set}}, nil
}

func profileFields(set map[string]any, p events.Profile) {
	put := func(name string, v *string) {
		if v != nil {
			set[name] = *v
		}
	}
	put("email", p.Email)
	put("full_name", p.FullName)
	put("description", p.Description)
	put("preferred_language", p.PreferredLanguage)
	put("preferred_timezone", p.PreferredTimezone)
}

// userID is the id part of "user-<id>".
func userID(stream string) string {
	return stream[len(events.UserCategory)+1:]
}
