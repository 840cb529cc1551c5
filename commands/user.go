package commands

import (
	"errors"
	"time"

	"github.com/accountd/accountd/events"
)

// User is an account's state as commands need it, folded from its stream.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Profile      events.Profile // every field ever set; nil: never set
	RegisteredAt time.Time
	UpdatedAt    time.Time
}

// Exists: the account has been registered.
func (u User) Exists() bool { return u.ID != "" }

// foldUser applies one past event of a user stream. Pure.
func foldUser(u User, e events.Recorded) User {
	switch p := e.Payload.(type) {
	case events.UserRegisteredV1:
		u = User{ID: p.UserID, Username: p.Username, PasswordHash: p.PasswordHash, RegisteredAt: e.Metadata.Time}
		u.Profile = u.Profile.Merge(p.Profile)
	case events.UserRenamedV1:
		u.Username = p.NewUsername
	case events.UserProfileUpdatedV1:
		u.Profile = u.Profile.Merge(p.Profile)
	case events.UserPasswordChangedV1:
		u.PasswordHash = p.PasswordHash
		return u // not a profile change
	default:
		return u
	}
	u.UpdatedAt = e.Metadata.Time
	return u
}

var errUserExists = errors.New("user id collision")

// register opens the account; the stream must be new.
func (u User) register(id, username, passwordHash string, profile events.Profile) ([]events.Payload, error) {
	if u.Exists() {
		return nil, errUserExists
	}
	return []events.Payload{events.UserRegisteredV1{UserID: id, Username: username, PasswordHash: passwordHash, Profile: profile}}, nil
}

// rename changes the username as typed; renaming to the same spelling
// changes nothing.
func (u User) rename(newName string) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	if u.Username == newName {
		return nil, nil
	}
	return []events.Payload{events.UserRenamedV1{UserID: u.ID, OldUsername: u.Username, NewUsername: newName}}, nil
}

// updateProfile records the fields that actually change.
func (u User) updateProfile(change events.Profile) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	changed, any := change.ChangesFrom(u.Profile)
	if !any {
		return nil, nil
	}
	before := changed.Before(u.Profile)
	return []events.Payload{events.UserProfileUpdatedV1{UserID: u.ID, Profile: changed, Previous: &before}}, nil
}

// mustExist is the decision of a command that only reads the account.
func (u User) mustExist() ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	return nil, nil
}
