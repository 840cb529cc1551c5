package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// RenameUser changes the signed-in user's username.
type RenameUser struct {
	UserID      string
	NewUsername string
	IfMatch     *uint64
}

// handleRenameUser claims the new name, renames the account, then releases the
// old name, so the old name is free for others once the rename succeeds.
// If the rename itself fails, the new claim is released again.
func (h *Handlers) handleRenameUser(ctx context.Context, cmd RenameUser, meta events.Metadata) (res UserResult, err error) {
	if err := invalid(validate.Username("username", cmd.NewUsername)); err != nil {
		return UserResult{}, err
	}
	meta = h.stamp(meta)
	stream := events.UserStream(cmd.UserID)
	current, _, err := h.users.load(ctx, stream, false)
	if err != nil {
		return UserResult{}, err
	}
	newName := validate.CanonicalUsername(cmd.NewUsername)
	// A change of case only keeps the reservation the account holds.
	claim := !current.Exists() || validate.CanonicalUsername(current.Username) != newName
	var claimed uint64
	if claim && current.Exists() {
		// A configured admin's name is settled before it can pass on.
		if claimed, err = h.settleConfiguredName(ctx, current.Username, meta); err != nil {
			return UserResult{}, err
		}
	}
	if claim {
		pos, err := h.claimUsername(ctx, cmd.NewUsername, cmd.UserID, meta)
		if err != nil {
			return UserResult{}, err
		}
		claimed = max(claimed, pos)
	}
	var oldName string
	out, err := update(ctx, h, h.users, stream, cmd.IfMatch, meta, func(u User) ([]events.Payload, error) {
		oldName = u.Username
		if !claim && u.Exists() && validate.CanonicalUsername(u.Username) != newName {
			return nil, ErrWrongExpectedVersion // renamed elsewhere meanwhile: no claim is held
		}
		return u.rename(cmd.NewUsername)
	})
	if err != nil {
		if claim {
			h.releaseUsername(context.WithoutCancel(ctx), cmd.NewUsername, cmd.UserID, events.ReleaseAbandonedClaim, meta)
		}
		return UserResult{}, err
	}
	res = UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: max(out.Position, claimed)}}
	if oldName != "" && validate.CanonicalUsername(oldName) != newName {
		// The rename stands even if this fails: the old name's holder no
		// longer carries it, so its next claimant reconciles the claim.
		res.Position = max(res.Position, h.releaseUsername(context.WithoutCancel(ctx), oldName, cmd.UserID, events.ReleaseRenamed, meta))
	}
	h.grantIfConfigured(ctx, cmd.NewUsername, &res, meta)
	return res, nil
}
