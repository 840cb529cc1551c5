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

// GrantRole records the grant; holding the role already changes nothing.
func (h *Handlers) GrantRole(ctx context.Context, cmd GrantRole, meta events.Metadata) (res UserResult, err error) {
	defer func() { h.done("grant_role", err) }()
	if !isGrantable(cmd.Role) {
		return UserResult{}, ErrUnknownRole
	}
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, h.stamp(meta), func(u User) ([]events.Payload, error) {
		return u.grantRole(cmd.Role)
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, err
}

// RevokeRole takes a role away (an admin's command). An admin may revoke
// their own admin role only while another account holds it.
type RevokeRole struct {
	UserID, Role string
}

// RevokeRole records the revocation; not holding the role changes nothing.
func (h *Handlers) RevokeRole(ctx context.Context, cmd RevokeRole, meta events.Metadata) (res UserResult, err error) {
	defer func() { h.done("revoke_role", err) }()
	if !isGrantable(cmd.Role) {
		return UserResult{}, ErrUnknownRole
	}
	others := 0
	for _, id := range h.directory.Admins() {
		if id != cmd.UserID {
			others++
		}
	}
	self := meta.Actor == cmd.UserID
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, h.stamp(meta), func(u User) ([]events.Payload, error) {
		return u.revokeRole(cmd.Role, self && others == 0)
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, err
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

// revokeRole: lastOwnAdmin is set when the caller revokes their own admin
// role and nobody else holds it.
func (u User) revokeRole(role string, lastOwnAdmin bool) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	if !u.HasRole(role) {
		return nil, nil
	}
	if role == events.RoleAdmin && lastOwnAdmin {
		return nil, ErrLastAdmin
	}
	return []events.Payload{events.UserRoleRevokedV1{UserID: u.ID, Role: role}}, nil
}
