package events

// RoleCategory: one stream per role, role-<name>, whose events say who
// holds the role. Decisions that depend on the holders as a whole (the
// last admin may not give up the role) are made on it with its expected
// revision; the account's own stream goes on carrying user.role_granted
// and user.role_revoked, which the read models and the index follow.
const RoleCategory = "role"

// RoleStream is the stream of one role's holders.
func RoleStream(role string) string { return RoleCategory + "-" + role }

// RoleHoldersFoundV1 opens a role stream with the accounts the log
// already showed holding the role when the stream was first needed (grants
// recorded in account streams before roles had a stream of their own).
type RoleHoldersFoundV1 struct {
	Role    string   `json:"role"`
	UserIDs []string `json:"user_ids"`
}

// RoleGrantedV1: the account holds the role from now on.
type RoleGrantedV1 struct {
	Role   string `json:"role"`
	UserID string `json:"user_id"`
}

// RoleRevokedV1: the account no longer holds the role; Reason is
// RoleLeftDeleted when the account was deleted, empty for an admin's
// revocation.
type RoleRevokedV1 struct {
	Role   string `json:"role"`
	UserID string `json:"user_id"`
	Reason string `json:"reason,omitempty"`
}

// RoleLeftDeleted: the holder's account was deleted.
const RoleLeftDeleted = "account_deleted"

func (RoleHoldersFoundV1) EventType() string { return RoleHoldersFound }
func (RoleGrantedV1) EventType() string      { return RoleGranted }
func (RoleRevokedV1) EventType() string      { return RoleRevoked }
