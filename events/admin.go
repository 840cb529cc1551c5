package events

// Roles.
const RoleAdmin = "admin"

// RoleSourceConfiguration marks a grant the service recorded because its
// configuration names the account (--admin), not an admin's.
const RoleSourceConfiguration = "configuration"

// UserRoleGrantedV1 gives an account a role.
type UserRoleGrantedV1 struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
	// Source is RoleSourceConfiguration for a grant by configuration;
	// empty: an admin's grant (the metadata's actor).
	Source string `json:"source,omitempty"`
	// ConfiguredAs is the configured value that named the account: a
	// username (lower case) or "id:<user id>".
	ConfiguredAs string `json:"configured_as,omitempty"`
}

// ConfiguredAdminsStream records which account each configured admin was
// resolved to, once for every replica.
const ConfiguredAdminsStream = ConfigCategory + "-admins"

// ConfiguredAdminResolvedV1: the configured admin ConfiguredAs (a
// username, lower case, or "id:<user id>") was found to be the account
// UserID. Recorded once per configured value, in ConfiguredAdminsStream, by
// whichever replica saw it first; the grant follows on the account's own
// stream, and a later holder of the name is never resolved again.
type ConfiguredAdminResolvedV1 struct {
	ConfiguredAs string `json:"configured_as"`
	UserID       string `json:"user_id"`
}

// UserRoleRevokedV1 takes a role away.
type UserRoleRevokedV1 struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

// UserAdminFieldsUpdatedV1 carries the admin-only fields that changed.
type UserAdminFieldsUpdatedV1 struct {
	UserID            string  `json:"user_id"`
	EmployeeID        *string `json:"employee_id,omitempty"`
	Department        *string `json:"department,omitempty"`
	DisplayNameLocked *bool   `json:"display_name_locked,omitempty"`
}

// UserDisabledV1: the account cannot sign in, and its credentials are
// refused.
type UserDisabledV1 struct {
	UserID string `json:"user_id"`
}

// UserEnabledV1 undoes a disable.
type UserEnabledV1 struct {
	UserID string `json:"user_id"`
}

// UserDeletedV1 ends the account: its username is released, its sessions
// and tokens end, and its data key is destroyed, so the personal data its
// events carry is unreadable from then on.
type UserDeletedV1 struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
}

func (UserRoleGrantedV1) EventType() string        { return UserRoleGranted }
func (UserRoleRevokedV1) EventType() string        { return UserRoleRevoked }
func (UserAdminFieldsUpdatedV1) EventType() string { return UserAdminFieldsUpdated }
func (UserDisabledV1) EventType() string           { return UserDisabled }
func (UserEnabledV1) EventType() string            { return UserEnabled }
func (UserDeletedV1) EventType() string            { return UserDeleted }

func (ConfiguredAdminResolvedV1) EventType() string { return ConfiguredAdminResolved }
