package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/validate"
)

// RenameUser changes the signed-in user's username.
type RenameUser struct {
	UserID      string
	NewUsername string
	IfMatch     *uint64
}

// Renamed is the command's result.
type Renamed struct {
	Result
	// UsernamesPosition is the $all position of the last username
	// reservation event written (0: none).
	UsernamesPosition uint64
}

// RenameUser claims the new name, renames the account, then releases the
// old name, so the old name is free for others once the rename succeeds.
// If the rename itself fails, the new claim is released again.
func (h *Handlers) RenameUser(ctx context.Context, cmd RenameUser, meta events.Metadata) (Renamed, error) {
	if err := invalid(validate.Username("username", cmd.NewUsername)); err != nil {
		return Renamed{}, err
	}
	meta = h.stamp(meta)
	current, _, err := h.users.Load(ctx, events.UserStream(cmd.UserID), false)
	if err != nil {
		return Renamed{}, err
	}
	if current.Exists() && current.Username == cmd.NewUsername {
		res, _, err := h.updateUser(ctx, cmd.UserID, cmd.IfMatch, meta, noChange)
		return Renamed{Result: res}, err
	}
	newName := validate.CanonicalUsername(cmd.NewUsername)
	caseOnly := current.Exists() && validate.CanonicalUsername(current.Username) == newName
	var out Renamed
	if !caseOnly {
		if out.UsernamesPosition, err = h.claimUsername(ctx, cmd.NewUsername, cmd.UserID, meta); err != nil {
			return Renamed{}, err
		}
	}
	var oldName string
	res, _, err := h.updateUser(ctx, cmd.UserID, cmd.IfMatch, meta, func(u User) ([]eventlog.NewEvent, error) {
		oldName = u.Username
		if u.Username == cmd.NewUsername {
			return nil, nil
		}
		return []eventlog.NewEvent{{
			Type: events.UserRenamed,
			Data: events.UserRenamedV1{UserID: u.ID, OldUsername: u.Username, NewUsername: cmd.NewUsername},
		}}, nil
	})
	if err != nil {
		if !caseOnly {
			_, _ = h.releaseUsername(context.WithoutCancel(ctx), cmd.NewUsername, cmd.UserID, events.ReleaseAbandonedClaim, meta)
		}
		return Renamed{}, err
	}
	out.Result = res
	if oldName != "" && validate.CanonicalUsername(oldName) != newName {
		// The rename stands even if this fails: the old name's holder no
		// longer carries it, so its next claimant reconciles the claim.
		if pos, err := h.releaseUsername(context.WithoutCancel(ctx), oldName, cmd.UserID, events.ReleaseRenamed, meta); err == nil && pos > 0 {
			out.UsernamesPosition = pos
		}
	}
	return out, nil
}

func noChange(User) ([]eventlog.NewEvent, error) { return nil, nil }
