package commands

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/validate"
)

// RegisterUser opens an account.
type RegisterUser struct {
	Username string
	Password string
	Profile  ProfileChange
}

// Registered is the new account's id and the command's result.
type Registered struct {
	UserID string
	Result
	// UsernamesPosition is the $all position of the username claim.
	UsernamesPosition uint64
}

// RegisterUser validates, reserves the username, and opens the user stream.
// If opening the stream fails, the reservation is released again.
func (h *Handlers) RegisterUser(ctx context.Context, cmd RegisterUser, meta events.Metadata) (Registered, error) {
	vs := validate.Username("username", cmd.Username)
	vs = append(vs, validate.Password("password", cmd.Password, cmd.Username)...)
	profile, pvs := cmd.Profile.validated()
	if err := invalid(append(vs, pvs...)); err != nil {
		return Registered{}, err
	}
	hash, err := password.Hash(cmd.Password, h.params)
	if err != nil {
		return Registered{}, err
	}
	userID := uuid.NewString()
	meta = h.stamp(meta)
	if meta.Actor == "" {
		meta.Actor = userID
	}
	claimed, err := h.claimUsername(ctx, cmd.Username, userID, meta)
	if err != nil {
		return Registered{}, err
	}
	res, err := h.users.Append(ctx, events.UserStream(userID), eventlog.NoStream, User{}, meta, eventlog.NewEvent{
		Type: events.UserRegistered,
		Data: events.UserRegisteredV1{UserID: userID, Username: cmd.Username, PasswordHash: hash, Profile: profile},
	})
	if err != nil {
		// Compensate; if this fails too, the claim is abandoned and the
		// next claimant of the name reconciles it.
		_, _ = h.releaseUsername(context.WithoutCancel(ctx), cmd.Username, userID, events.ReleaseAbandonedClaim, meta)
		if errors.Is(err, eventlog.ErrWrongExpectedVersion) {
			return Registered{}, errors.New("user id collision")
		}
		return Registered{}, err
	}
	return Registered{UserID: userID, Result: res, UsernamesPosition: claimed}, nil
}
