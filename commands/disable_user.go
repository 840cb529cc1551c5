package commands

import (
	"context"

	"github.com/accountd/accountd/events"
)

// DisableUser stops an account (an admin's command): it cannot sign in,
// and its sessions and tokens are refused until it is enabled again.
type DisableUser struct {
	UserID string
}

// DisableUser records it; a disabled account stays as it is. An admin
// cannot disable their own account (nobody could enable it again).
func (h *Handlers) DisableUser(ctx context.Context, cmd DisableUser, meta events.Metadata) (res UserResult, err error) {
	defer func() { h.done("disable_user", err) }()
	if meta.Actor == cmd.UserID {
		return UserResult{}, ErrDisableSelf
	}
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, h.stamp(meta), func(u User) ([]events.Payload, error) {
		return u.setDisabled(true)
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, err
}

// EnableUser undoes DisableUser.
type EnableUser struct {
	UserID string
}

// EnableUser records it; an enabled account stays as it is.
func (h *Handlers) EnableUser(ctx context.Context, cmd EnableUser, meta events.Metadata) (res UserResult, err error) {
	defer func() { h.done("enable_user", err) }()
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, h.stamp(meta), func(u User) ([]events.Payload, error) {
		return u.setDisabled(false)
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, err
}

func (u User) setDisabled(disabled bool) ([]events.Payload, error) {
	switch {
	case !u.Exists():
		return nil, ErrUserNotFound
	case u.Disabled == disabled:
		return nil, nil
	case disabled:
		return []events.Payload{events.UserDisabledV1{UserID: u.ID}}, nil
	}
	return []events.Payload{events.UserEnabledV1{UserID: u.ID}}, nil
}
