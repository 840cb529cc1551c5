package commands

import (
	"context"
	"errors"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// DeleteUser ends an account for good. The owner confirms with the current
// password; an admin does not (ByAdmin).
type DeleteUser struct {
	UserID          string
	CurrentPassword string
	ByAdmin         bool
	// Confirmed: the caller has just checked the password itself.
	Confirmed bool
}

// Why sessions end and names are released when an account is deleted.
const ReasonAccountDeleted = events.SessionAccountDeleted

// handleDeleteUser records the deletion, then releases the username, ends every
// session, deletes every token and the service credentials, and destroys
// the account's data key, which makes the personal data in its events
// unreadable. Everything after the deletion event is repeated by
// EraseDeleted should the process stop half way.
func (h *Handlers) handleDeleteUser(ctx context.Context, cmd DeleteUser, meta events.Metadata) (res Result, err error) {
	stream := events.UserStream(cmd.UserID)
	u, _, err := h.users.load(ctx, stream, true)
	if err != nil {
		return Result{}, err
	}
	if !u.Exists() {
		return Result{}, ErrUserNotFound
	}
	if !cmd.ByAdmin && !cmd.Confirmed {
		if cmd.CurrentPassword == "" {
			return Result{}, invalid([]validate.Violation{{Field: "current_password", Code: "request.required"}})
		}
		if err := h.checkPassword(ctx, forSession(u, meta), cmd.CurrentPassword, u.PasswordHash); err != nil {
			if err == ErrInvalidCredentials {
				return Result{}, ErrWrongPassword
			}
			return Result{}, err
		}
	}
	meta = h.stamp(meta)
	// The role streams drop the account before it goes, so that they never
	// count a deleted account as a holder.
	if _, err := h.leaveRoles(ctx, cmd.UserID, u.Roles, meta); err != nil {
		return Result{}, err
	}
	out, err := update(ctx, h, h.users, stream, nil, meta, func(u User) ([]events.Payload, error) {
		if !u.Exists() {
			return nil, ErrUserNotFound
		}
		return []events.Payload{events.UserDeletedV1{UserID: u.ID, Username: u.Username}}, nil
	})
	if err != nil {
		return Result{}, err
	}
	h.pictureCache.Remove(u.Picture.SHA256)
	pos, err := h.EraseDeleted(ctx, cmd.UserID, u.Username, meta)
	return Result{Revision: out.Revision, Position: max(out.Position, pos)}, err
}

// EraseDeleted finishes the deletion of an account: the username is
// released, sessions end, tokens and credentials go, and the data key is
// destroyed. Each step changes nothing the second time.
func (h *Handlers) EraseDeleted(ctx context.Context, userID, username string, meta events.Metadata) (uint64, error) {
	ctx = context.WithoutCancel(ctx) // a deletion, once recorded, is finished
	var errs []error
	// A configured admin's name is settled before it can pass on; until
	// then the name stays held, and the next try releases it.
	last, err := h.settleConfiguredName(ctx, username, meta)
	if err != nil {
		errs = append(errs, err)
	} else {
		last = max(last, h.releaseUsername(ctx, username, userID, ReasonAccountDeleted, meta))
	}
	pos, err := h.leaveRoles(ctx, userID, grantable, meta)
	last = max(last, pos)
	if err != nil {
		errs = append(errs, err)
	}
	pos, err = h.endOtherSessions(ctx, userID, "", ReasonAccountDeleted, meta)
	last = max(last, pos)
	if err != nil {
		errs = append(errs, err)
	}
	out, err := update(ctx, h, h.tokens, events.TokensStream(userID), nil, meta, func(ts Tokens) ([]events.Payload, error) {
		return ts.deleteAll(Actor{Session: true}, meta.Time) // the account goes: every token, whoever asked
	})
	if err != nil {
		errs = append(errs, err)
	}
	last = max(last, out.Position)
	cout, err := update(ctx, h, h.credentials, events.CredentialsStream(userID), nil, meta, func(cs ServiceCredentials) ([]events.Payload, error) {
		return cs.deleteAll(userID)
	})
	if err != nil {
		errs = append(errs, err)
	}
	last = max(last, cout.Position)
	if h.keys != nil {
		if err := h.keys.Destroy(ctx, userID); err != nil {
			errs = append(errs, err)
		}
	}
	return last, errors.Join(errs...)
}
