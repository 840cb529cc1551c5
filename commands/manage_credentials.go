package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// CreateCredential stores a service credential for UserID; ProvisionedBy
// is the admin who made it for the user ("" when the user did).
type CreateCredential struct {
	UserID        string
	Spec          CredentialSpec
	ProvisionedBy string
}

// CredentialResult is a credential after a command, and where it is.
type CredentialResult struct {
	Credential ServiceCredential
	Result
}

// handleCreateCredential records a new credential (its secret sealed in the log).
func (h *Handlers) handleCreateCredential(ctx context.Context, cmd CreateCredential, meta events.Metadata) (res CredentialResult, err error) {
	meta = h.stamp(meta)
	spec, vs := validCredential(cmd.Spec, true, meta.Time)
	if err := invalid(vs); err != nil {
		return CredentialResult{}, err
	}
	id := uuid.NewString()
	out, err := update(ctx, h, h.credentials, events.CredentialsStream(cmd.UserID), nil, meta, func(cs ServiceCredentials) ([]events.Payload, error) {
		return cs.create(cmd.UserID, id, cmd.ProvisionedBy, spec)
	})
	if err != nil {
		return CredentialResult{}, err
	}
	c, _ := out.State.Get(id)
	return CredentialResult{Credential: c, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}

// UpdateCredential changes fields of a credential.
type UpdateCredential struct {
	UserID, CredentialID string
	Spec                 CredentialSpec
}

// handleUpdateCredential records the fields that change.
func (h *Handlers) handleUpdateCredential(ctx context.Context, cmd UpdateCredential, meta events.Metadata) (res CredentialResult, err error) {
	meta = h.stamp(meta)
	spec, vs := validCredential(cmd.Spec, false, meta.Time)
	if err := invalid(vs); err != nil {
		return CredentialResult{}, err
	}
	out, err := update(ctx, h, h.credentials, events.CredentialsStream(cmd.UserID), nil, meta, func(cs ServiceCredentials) ([]events.Payload, error) {
		return cs.update(cmd.UserID, cmd.CredentialID, spec)
	})
	if err != nil {
		return CredentialResult{}, err
	}
	c, _ := out.State.Get(cmd.CredentialID)
	return CredentialResult{Credential: c, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}

// DeleteCredential removes a credential.
type DeleteCredential struct {
	UserID, CredentialID string
}

// handleDeleteCredential records the removal.
func (h *Handlers) handleDeleteCredential(ctx context.Context, cmd DeleteCredential, meta events.Metadata) (res Result, err error) {
	out, err := update(ctx, h, h.credentials, events.CredentialsStream(cmd.UserID), nil, h.stamp(meta), func(cs ServiceCredentials) ([]events.Payload, error) {
		return cs.delete(cmd.UserID, cmd.CredentialID)
	})
	return Result{Revision: out.Revision, Position: out.Position}, err
}

// RevealCredential shows a credential's secret to its owner, who confirms
// with the current password.
type RevealCredential struct {
	UserID, CredentialID, CurrentPassword string
	// Confirmed: the caller has just checked the password itself
	// (ConfirmPassword, within minutes); CurrentPassword is not needed.
	Confirmed bool
}

// Revealed is the secret, for this one response.
type Revealed struct {
	Secret string
	Result
}

// handleRevealCredential checks the password (throttled like a sign-in), records
// the reveal for the audit log, then returns the secret.
func (h *Handlers) handleRevealCredential(ctx context.Context, cmd RevealCredential, meta events.Metadata) (res Revealed, err error) {
	if cmd.CurrentPassword == "" && !cmd.Confirmed {
		return Revealed{}, invalid([]validate.Violation{{Field: "current_password", Code: "request.required"}})
	}
	u, _, err := h.users.load(ctx, events.UserStream(cmd.UserID), true)
	if err != nil {
		return Revealed{}, err
	}
	if !u.Exists() {
		return Revealed{}, ErrUserNotFound
	}
	cs, _, err := h.credentials.load(ctx, events.CredentialsStream(cmd.UserID), false)
	if err != nil {
		return Revealed{}, err
	}
	if _, ok := cs.Get(cmd.CredentialID); !ok {
		return Revealed{}, ErrCredentialNotFound
	}
	if !cmd.Confirmed {
		if err := h.checkPassword(ctx, forSession(u, meta), cmd.CurrentPassword, u.PasswordHash); err != nil {
			if err == ErrInvalidCredentials {
				return Revealed{}, ErrWrongPassword
			}
			return Revealed{}, err
		}
	}
	out, err := update(ctx, h, h.credentials, events.CredentialsStream(cmd.UserID), nil, h.stamp(meta), func(cs ServiceCredentials) ([]events.Payload, error) {
		return cs.reveal(cmd.UserID, cmd.CredentialID)
	})
	if err != nil {
		return Revealed{}, err
	}
	c, _ := out.State.Get(cmd.CredentialID)
	return Revealed{Secret: c.Secret, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}
