package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// ConfirmPassword checks a signed-in user's current password before a
// sensitive step (the console's re-authentication), under the sign-in
// throttling policy. It writes nothing.
type ConfirmPassword struct {
	UserID, Password string
}

// handleConfirmPassword is nil when the password is right.
func (h *Handlers) handleConfirmPassword(ctx context.Context, cmd ConfirmPassword, meta events.Metadata) (err error) {
	if cmd.Password == "" {
		return invalid([]validate.Violation{{Field: "current_password", Code: "request.required"}})
	}
	u, _, err := h.users.load(ctx, events.UserStream(cmd.UserID), true)
	if err != nil {
		return err
	}
	if !u.Exists() {
		return ErrUserNotFound
	}
	if err := h.checkPassword(ctx, forSession(u, meta), cmd.Password, u.PasswordHash); err != nil {
		if err == ErrInvalidCredentials {
			return ErrWrongPassword
		}
		return err
	}
	return nil
}
