package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/validate"
)

// RegisterUser opens an account.
type RegisterUser struct {
	Username string
	Password string
	Profile  ProfileChange
}

// UserResult is an account as a command left it.
type UserResult struct {
	User User
	Result
}

// handleRegisterUser validates, reserves the username, and opens the user stream.
// If opening the stream fails, the reservation is released again.
func (h *Handlers) handleRegisterUser(ctx context.Context, cmd RegisterUser, meta events.Metadata) (res UserResult, err error) {
	vs := validate.Username("username", cmd.Username)
	vs = append(vs, validate.Password("password", cmd.Password, cmd.Username)...)
	profile, pvs := validateProfile(cmd.Profile)
	if err := invalid(append(vs, pvs...)); err != nil {
		return UserResult{}, err
	}
	if ok, wait, err := h.registration.allow(ctx, meta.ClientIP); err != nil {
		return UserResult{}, err
	} else if !ok {
		return UserResult{}, h.throttled(ScopeRegistration, wait, passwordCheck{address: meta.ClientIP}) // per address: no name to log
	}
	hash, err := password.Hash(cmd.Password, h.params)
	if err != nil {
		return UserResult{}, err
	}
	userID := uuid.NewString()
	meta = h.stamp(meta)
	if meta.Actor == "" || meta.Actor == events.ActorAnonymous {
		meta.Actor = userID
	}
	claimed, err := h.claimUsername(ctx, cmd.Username, userID, meta)
	if err != nil {
		return UserResult{}, err
	}
	out, err := update(ctx, h, h.users, events.UserStream(userID), nil, meta, func(u User) ([]events.Payload, error) {
		return u.register(userID, cmd.Username, hash, profile)
	})
	if err != nil {
		// Compensate; if this fails too, the claim is abandoned and the
		// next claimant of the name reconciles it.
		h.releaseUsername(context.WithoutCancel(ctx), cmd.Username, userID, events.ReleaseAbandonedClaim, meta)
		return UserResult{}, err
	}
	res = UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: max(out.Position, claimed)}}
	h.grantIfConfigured(ctx, cmd.Username, &res, meta)
	return res, nil
}
