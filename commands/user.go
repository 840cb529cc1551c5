package commands

import (
	"errors"
	"slices"
	"time"

	"github.com/accountd/accountd/events"
)

// User is an account's state as commands need it, folded from its stream.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Profile      events.Profile // every field ever set; absent: never set
	RegisteredAt time.Time
	UpdatedAt    time.Time
	Admin        AdminFields
	Roles        []string // sorted
	Disabled     bool
	Deleted      bool
	Picture      Picture // zero: none

	// ConfiguredGrants are the configured admins (their keys) whose grant
	// of the admin role is recorded on this account.
	ConfiguredGrants []string
	// PictureKeepFrom is the first revision of the pictures stream still
	// needed: that of the current picture or of the one it replaced,
	// whichever is older. It only grows: a picture stored before it is
	// stored again before it is made current.
	PictureKeepFrom uint64
}

// AdminFields are the fields only an admin may change; the user reads them.
type AdminFields struct {
	EmployeeID        string
	Department        string
	DisplayNameLocked bool // the user may not change the full name
}

// Picture is the current profile picture.
type Picture struct {
	SHA256      string
	ContentType string
	Revision    uint64 // of its bytes in the pictures stream
}

// Exists: the account has been registered and not deleted.
func (u User) Exists() bool { return u.ID != "" && !u.Deleted }

// HasRole says whether the account holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

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
	case events.UserAdminFieldsUpdatedV1:
		if p.EmployeeID != nil {
			u.Admin.EmployeeID = *p.EmployeeID
		}
		if p.Department != nil {
			u.Admin.Department = *p.Department
		}
		if p.DisplayNameLocked != nil {
			u.Admin.DisplayNameLocked = *p.DisplayNameLocked
		}
	case events.UserRoleGrantedV1:
		if !u.HasRole(p.Role) {
			u.Roles = append(slices.Clone(u.Roles), p.Role)
			slices.Sort(u.Roles)
		}
		if p.ConfiguredAs != "" && !slices.Contains(u.ConfiguredGrants, p.ConfiguredAs) {
			u.ConfiguredGrants = append(slices.Clone(u.ConfiguredGrants), p.ConfiguredAs)
		}
	case events.UserRoleRevokedV1:
		u.Roles = slices.DeleteFunc(slices.Clone(u.Roles), func(r string) bool { return r == p.Role })
	case events.UserDisabledV1:
		u.Disabled = true
	case events.UserEnabledV1:
		u.Disabled = false
	case events.UserDeletedV1:
		u.Deleted, u.Disabled = true, false
		u.PasswordHash, u.Profile, u.Picture, u.Admin = "", nil, Picture{}, AdminFields{}
	case events.UserPictureChangedV1:
		if p.SHA256 != "" {
			keep := p.Revision
			if u.Picture.SHA256 != "" {
				keep = min(keep, u.Picture.Revision)
			}
			u.PictureKeepFrom = keep
		}
		u.Picture = Picture{SHA256: p.SHA256, ContentType: p.ContentType, Revision: p.Revision}
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

// updateProfile records the fields that actually change. An admin may
// change a locked full name; its owner may not.
func (u User) updateProfile(change events.Profile, byAdmin bool) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	changed, any := change.ChangesFrom(u.Profile)
	if !any {
		return nil, nil
	}
	if _, name := changed.Given(events.FieldFullName); name && u.Admin.DisplayNameLocked && !byAdmin {
		return nil, ErrFieldLocked
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
