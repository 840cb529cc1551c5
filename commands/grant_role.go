package commands

import (
	"context"

	"github.com/accountd/accountd/events"
)

// Roles an admin may grant.
var grantable = []string{events.RoleAdmin}

// GrantRole gives an account a role (an admin's command).
type GrantRole struct {
	UserID, Role string
}

// handleGrantRole records the grant; holding the role already changes nothing.
// The account's stream records it first, then the role's holders list it.
func (h *Handlers) handleGrantRole(ctx context.Context, cmd GrantRole, meta events.Metadata) (res UserResult, err error) {
	if !isGrantable(cmd.Role) {
		return UserResult{}, ErrUnknownRole
	}
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, meta, func(u User) ([]events.Payload, error) {
		return u.grantRole(cmd.Role)
	})
	res = UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}
	if err != nil {
		return res, err
	}
	pos, err := h.addRoleHolder(ctx, cmd.Role, cmd.UserID, meta)
	res.Position = max(res.Position, pos)
	return res, err
}

// RevokeRole takes a role away (an admin's command). An admin may revoke
// their own admin role only while another account holds it.
type RevokeRole struct {
	UserID, Role string
}

// handleRevokeRole records the revocation; not holding the role changes nothing.
// The role's holders drop the account first, with the stream's expected
// revision, so that of two admins revoking themselves at once one wins and
// the other is the last admin; then the account's stream records it.
func (h *Handlers) handleRevokeRole(ctx context.Context, cmd RevokeRole, meta events.Metadata) (res UserResult, err error) {
	if !isGrantable(cmd.Role) {
		return UserResult{}, ErrUnknownRole
	}
	meta = h.stamp(meta)
	u, _, err := h.users.load(ctx, events.UserStream(cmd.UserID), true)
	if err != nil {
		return UserResult{}, err
	}
	if !u.Exists() {
		return UserResult{}, ErrUserNotFound
	}
	self := meta.Actor == cmd.UserID
	pos, err := h.dropRoleHolder(ctx, cmd.Role, cmd.UserID, "", self && cmd.Role == events.RoleAdmin && u.HasRole(cmd.Role), meta)
	if err != nil {
		return UserResult{}, err
	}
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, meta, func(u User) ([]events.Payload, error) {
		return u.revokeRole(cmd.Role)
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: max(out.Position, pos)}}, err
}

func isGrantable(role string) bool {
	for _, r := range grantable {
		if r == role {
			return true
		}
	}
	return false
}

func (u User) grantRole(role string) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	if u.HasRole(role) {
		return nil, nil
	}
	return []events.Payload{events.UserRoleGrantedV1{UserID: u.ID, Role: role}}, nil
}

// revokeRole: whether the role may go was decided on the role's stream.
func (u User) revokeRole(role string) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	if !u.HasRole(role) {
		return nil, nil
	}
	return []events.Payload{events.UserRoleRevokedV1{UserID: u.ID, Role: role}}, nil
}
