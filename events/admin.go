package events

// Roles.
const RoleAdmin = "admin"

// UserRoleGrantedV1 gives an account a role.
type UserRoleGrantedV1 struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
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
