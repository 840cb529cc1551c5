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

// handleDisableUser records it; a disabled account stays as it is. An admin
// cannot disable their own account (nobody could enable it again).
func (h *Handlers) handleDisableUser(ctx context.Context, cmd DisableUser, meta events.Metadata) (res UserResult, err error) {
	if meta.Actor == cmd.UserID {
		return UserResult{}, ErrDisableSelf
	}
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, meta, func(u User) ([]events.Payload, error) {
		return u.setDisabled(true)
	})
	if err != nil {
		return UserResult{}, err
	}
	// An account is disabled when it may be in the wrong hands: its
	// sessions end for good (enabling it again does not bring them back).
	// Its tokens stay, refused while it is disabled.
	pos, err := h.endOtherSessions(ctx, cmd.UserID, "", ReasonAccountDisabled, meta)
	if err != nil {
		return UserResult{}, err
	}
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: max(out.Position, pos)}}, nil
}

// ReasonAccountDisabled: why sessions end when an admin disables the account.
const ReasonAccountDisabled = events.SessionAccountDisabled

// EnableUser undoes DisableUser.
type EnableUser struct {
	UserID string
}

// handleEnableUser records it; an enabled account stays as it is.
func (h *Handlers) handleEnableUser(ctx context.Context, cmd EnableUser, meta events.Metadata) (res UserResult, err error) {
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
