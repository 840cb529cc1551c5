package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/validate"
)

// ChangePassword replaces the password, given the current one, from the
// session SessionID; every other session of the user ends.
type ChangePassword struct {
	UserID, SessionID     string
	Current, New, Confirm string
}

// handleChangePassword checks every rule of the new password at once, then the
// current password under the sign-in throttling policy, then records only
// the new argon2id hash and ends the other sessions.
func (h *Handlers) handleChangePassword(ctx context.Context, cmd ChangePassword, meta events.Metadata) (res Result, err error) {
	u, _, err := h.users.load(ctx, events.UserStream(cmd.UserID), false)
	if err != nil {
		return Result{}, err
	}
	if !u.Exists() {
		if u, _, err = h.users.load(ctx, events.UserStream(cmd.UserID), true); err != nil {
			return Result{}, err
		}
		if !u.Exists() {
			return Result{}, ErrUserNotFound
		}
	}
	var vs []validate.Violation
	if cmd.Current == "" {
		vs = append(vs, validate.Violation{Field: "current_password", Code: "request.required"})
	}
	vs = append(vs, validate.Password("new_password", cmd.New, u.Username)...)
	if cmd.New != "" && cmd.New == cmd.Current {
		vs = append(vs, validate.Violation{Field: "new_password", Code: "password.same_as_current"})
	}
	if cmd.Confirm != cmd.New {
		vs = append(vs, validate.Violation{Field: "confirm_password", Code: "password.confirm_mismatch"})
	}
	if err := invalid(vs); err != nil {
		return Result{}, err
	}
	if err := h.checkPassword(ctx, forSession(u, meta), cmd.Current, u.PasswordHash); err != nil {
		if err == ErrInvalidCredentials {
			return Result{}, ErrWrongPassword
		}
		return Result{}, err
	}
	hash, err := password.Hash(cmd.New, h.params)
	if err != nil {
		return Result{}, err
	}
	meta = h.stamp(meta)
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, meta, func(u User) ([]events.Payload, error) {
		return u.changePassword(hash, cmd.SessionID)
	})
	if err != nil {
		return Result{}, err
	}
	res = Result{Revision: out.Revision, Position: out.Position}
	pos, err := h.endOtherSessions(ctx, cmd.UserID, cmd.SessionID, events.SessionPasswordChanged, meta)
	res.Position = max(res.Position, pos)
	return res, err
}

// changePassword records the new hash.
func (u User) changePassword(hash, keptSession string) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	return []events.Payload{events.UserPasswordChangedV1{UserID: u.ID, PasswordHash: hash, KeptSessionID: keptSession}}, nil
}
