package projections

import (
	"encoding/json"

	"github.com/accountd/accountd/events"
)

// reduceProfile keeps the public part of each account, keyed by user id:
// username, full name, description and picture.
func reduceProfile(e events.Envelope) ([]Write, error) {
	set := map[string]any{}
	var profile events.Profile
	switch e.Type {
	case events.UserRegistered:
		var p events.UserRegisteredV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return nil, unreadable(e, err)
		}
		set["username"] = p.Username
		profile = p.Profile
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
		profile = p.Profile
	default:
		return nil, nil
	}
	if profile.FullName != nil {
		set["full_name"] = *profile.FullName
	}
	if profile.Description != nil {
		set["description"] = *profile.Description
	}
	if len(set) == 0 {
		return nil, nil // a private field changed; the public profile did not
	}
	return []Write{{Collection: ProfilesCollection, ID: userID(e.Stream), Version: e.Revision + 1, Set: set}}, nil
}
