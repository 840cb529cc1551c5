package commands

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
)

// User is an account's state as commands need it, rebuilt from its stream.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Profile      ProfileFields
	RegisteredAt time.Time
	UpdatedAt    time.Time
}

// ProfileFields are the editable profile values ("" when unset).
type ProfileFields struct {
	Email             string
	FullName          string
	Description       string
	PreferredLanguage string
	PreferredTimezone string
}

// Exists: the account has been registered.
func (u User) Exists() bool { return u.ID != "" }

// FoldUser applies one past event of a user stream. Pure.
func FoldUser(u User, e eventlog.Recorded) (User, error) {
	switch e.Type {
	case events.UserRegistered:
		var p events.UserRegisteredV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return u, fmt.Errorf("%s: %w", e.Type, err)
		}
		u = User{ID: p.UserID, Username: p.Username, PasswordHash: p.PasswordHash, RegisteredAt: e.Metadata.Time, UpdatedAt: e.Metadata.Time}
		u.Profile = u.Profile.apply(p.Profile)
	case events.UserRenamed:
		var p events.UserRenamedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return u, fmt.Errorf("%s: %w", e.Type, err)
		}
		u.Username = p.NewUsername
		u.UpdatedAt = e.Metadata.Time
	case events.UserProfileUpdated:
		var p events.UserProfileUpdatedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return u, fmt.Errorf("%s: %w", e.Type, err)
		}
		u.Profile = u.Profile.apply(p.Profile)
		u.UpdatedAt = e.Metadata.Time
	}
	return u, nil
}

func (f ProfileFields) apply(p events.Profile) ProfileFields {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&f.Email, p.Email)
	set(&f.FullName, p.FullName)
	set(&f.Description, p.Description)
	set(&f.PreferredLanguage, p.PreferredLanguage)
	set(&f.PreferredTimezone, p.PreferredTimezone)
	return f
}
