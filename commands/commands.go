package commands

import (
	"context"
	"time"

	"github.com/accountd/accountd/events"
)

// The commands, each run in the one decorator that records its outcome and
// duration (measured); their bodies are the handle* methods, one file per
// use case.

// ChangePassword: handleChangePassword, measured.
func (h *Handlers) ChangePassword(ctx context.Context, cmd ChangePassword, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "change_password", cmd, meta, h.handleChangePassword)
}

// ConfirmPassword: handleConfirmPassword, measured.
func (h *Handlers) ConfirmPassword(ctx context.Context, cmd ConfirmPassword, meta events.Metadata) error {
	_, err := measured(ctx, h, "confirm_password", cmd, meta, noResult(h.handleConfirmPassword))
	return err
}

// CreateToken: handleCreateToken, measured.
func (h *Handlers) CreateToken(ctx context.Context, cmd CreateToken, meta events.Metadata) (IssuedToken, error) {
	return measured(ctx, h, "create_token", cmd, meta, h.handleCreateToken)
}

// DeleteToken: handleDeleteToken, measured.
func (h *Handlers) DeleteToken(ctx context.Context, cmd DeleteToken, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "delete_token", cmd, meta, h.handleDeleteToken)
}

// DeleteAllTokens: handleDeleteAllTokens, measured.
func (h *Handlers) DeleteAllTokens(ctx context.Context, cmd DeleteAllTokens, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "delete_all_tokens", cmd, meta, h.handleDeleteAllTokens)
}

// DeleteUser: handleDeleteUser, measured.
func (h *Handlers) DeleteUser(ctx context.Context, cmd DeleteUser, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "delete_user", cmd, meta, h.handleDeleteUser)
}

// DisableUser: handleDisableUser, measured.
func (h *Handlers) DisableUser(ctx context.Context, cmd DisableUser, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "disable_user", cmd, meta, h.handleDisableUser)
}

// EnableUser: handleEnableUser, measured.
func (h *Handlers) EnableUser(ctx context.Context, cmd EnableUser, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "enable_user", cmd, meta, h.handleEnableUser)
}

// EndSession: handleEndSession, measured.
func (h *Handlers) EndSession(ctx context.Context, cmd EndSession, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "end_session", cmd, meta, h.handleEndSession)
}

// EndOtherSessions: handleEndOtherSessions, measured.
func (h *Handlers) EndOtherSessions(ctx context.Context, cmd EndOtherSessions, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "end_other_sessions", cmd, meta, h.handleEndOtherSessions)
}

// FinishSessionEnd: handleFinishSessionEnd, measured.
func (h *Handlers) FinishSessionEnd(ctx context.Context, userID, sessionID, reason string, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "finish_session_end", struct{}{}, meta, func(ctx context.Context, _ struct{}, meta events.Metadata) (Result, error) {
		return h.handleFinishSessionEnd(ctx, userID, sessionID, reason, meta)
	})
}

// GrantRole: handleGrantRole, measured.
func (h *Handlers) GrantRole(ctx context.Context, cmd GrantRole, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "grant_role", cmd, meta, h.handleGrantRole)
}

// RevokeRole: handleRevokeRole, measured.
func (h *Handlers) RevokeRole(ctx context.Context, cmd RevokeRole, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "revoke_role", cmd, meta, h.handleRevokeRole)
}

// CreateCredential: handleCreateCredential, measured.
func (h *Handlers) CreateCredential(ctx context.Context, cmd CreateCredential, meta events.Metadata) (CredentialResult, error) {
	return measured(ctx, h, "create_credential", cmd, meta, h.handleCreateCredential)
}

// UpdateCredential: handleUpdateCredential, measured.
func (h *Handlers) UpdateCredential(ctx context.Context, cmd UpdateCredential, meta events.Metadata) (CredentialResult, error) {
	return measured(ctx, h, "update_credential", cmd, meta, h.handleUpdateCredential)
}

// DeleteCredential: handleDeleteCredential, measured.
func (h *Handlers) DeleteCredential(ctx context.Context, cmd DeleteCredential, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "delete_credential", cmd, meta, h.handleDeleteCredential)
}

// RevealCredential: handleRevealCredential, measured.
func (h *Handlers) RevealCredential(ctx context.Context, cmd RevealCredential, meta events.Metadata) (Revealed, error) {
	return measured(ctx, h, "reveal_credential", cmd, meta, h.handleRevealCredential)
}

// Notify: handleNotify, measured.
func (h *Handlers) Notify(ctx context.Context, userID string, n Raise, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "notify", struct{}{}, meta, func(ctx context.Context, _ struct{}, meta events.Metadata) (Result, error) {
		return h.handleNotify(ctx, userID, n, meta)
	})
}

// SetNotificationPreferences: handleSetNotificationPreferences, measured.
func (h *Handlers) SetNotificationPreferences(ctx context.Context, cmd SetNotificationPreferences, meta events.Metadata) (Preferences, error) {
	return measured(ctx, h, "set_notification_preferences", cmd, meta, h.handleSetNotificationPreferences)
}

// MarkNotificationsRead: handleMarkNotificationsRead, measured.
func (h *Handlers) MarkNotificationsRead(ctx context.Context, cmd MarkNotificationsRead, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "mark_notifications_read", cmd, meta, h.handleMarkNotificationsRead)
}

// NoteEmailed: handleNoteEmailed, measured.
func (h *Handlers) NoteEmailed(ctx context.Context, userID, notificationID string, meta events.Metadata) error {
	_, err := measured(ctx, h, "note_emailed", struct{}{}, meta, func(ctx context.Context, _ struct{}, meta events.Metadata) (struct{}, error) {
		return struct{}{}, h.handleNoteEmailed(ctx, userID, notificationID, meta)
	})
	return err
}

// RegisterUser: handleRegisterUser, measured.
func (h *Handlers) RegisterUser(ctx context.Context, cmd RegisterUser, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "register_user", cmd, meta, h.handleRegisterUser)
}

// RenameUser: handleRenameUser, measured.
func (h *Handlers) RenameUser(ctx context.Context, cmd RenameUser, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "rename_user", cmd, meta, h.handleRenameUser)
}

// RevokeTokens: handleRevokeTokens, measured.
func (h *Handlers) RevokeTokens(ctx context.Context, cmd RevokeTokens, meta events.Metadata) error {
	_, err := measured(ctx, h, "revoke_tokens", cmd, meta, noResult(h.handleRevokeTokens))
	return err
}

// NoteEmailFailed: handleNoteEmailFailed, measured.
func (h *Handlers) NoteEmailFailed(ctx context.Context, cmd NoteEmailFailed, meta events.Metadata) error {
	_, err := measured(ctx, h, "note_email_failed", cmd, meta, noResult(h.handleNoteEmailFailed))
	return err
}

// ReportTokenReuse: handleReportTokenReuse, measured.
func (h *Handlers) ReportTokenReuse(ctx context.Context, cmd ReportTokenReuse, meta events.Metadata) error {
	_, err := measured(ctx, h, "report_token_reuse", cmd, meta, noResult(h.handleReportTokenReuse))
	return err
}

// RotateToken: handleRotateToken, measured.
func (h *Handlers) RotateToken(ctx context.Context, cmd RotateToken, meta events.Metadata) (IssuedToken, error) {
	return measured(ctx, h, "rotate_token", cmd, meta, h.handleRotateToken)
}

// SetPicture: handleSetPicture, measured.
func (h *Handlers) SetPicture(ctx context.Context, cmd SetPicture, meta events.Metadata) (PictureResult, error) {
	return measured(ctx, h, "set_picture", cmd, meta, h.handleSetPicture)
}

// RemovePicture: handleRemovePicture, measured.
func (h *Handlers) RemovePicture(ctx context.Context, cmd RemovePicture, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "remove_picture", cmd, meta, h.handleRemovePicture)
}

// SignIn: handleSignIn, measured.
func (h *Handlers) SignIn(ctx context.Context, cmd SignIn, meta events.Metadata) (SignedIn, error) {
	return measured(ctx, h, "sign_in", cmd, meta, h.handleSignIn)
}

// SignOut: handleSignOut, measured.
func (h *Handlers) SignOut(ctx context.Context, cmd SignOut, meta events.Metadata) (Result, error) {
	return measured(ctx, h, "sign_out", cmd, meta, h.handleSignOut)
}

// UpdateAdminFields: handleUpdateAdminFields, measured.
func (h *Handlers) UpdateAdminFields(ctx context.Context, cmd UpdateAdminFields, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "update_admin_fields", cmd, meta, h.handleUpdateAdminFields)
}

// UpdateProfile: handleUpdateProfile, measured.
func (h *Handlers) UpdateProfile(ctx context.Context, cmd UpdateProfile, meta events.Metadata) (UserResult, error) {
	return measured(ctx, h, "update_profile", cmd, meta, h.handleUpdateProfile)
}

// UpdateToken: handleUpdateToken, measured.
func (h *Handlers) UpdateToken(ctx context.Context, cmd UpdateToken, meta events.Metadata) (TokenResult, error) {
	return measured(ctx, h, "update_token", cmd, meta, h.handleUpdateToken)
}

// measured runs one command and records its outcome ("ok" or the kind
// of error) and how long it took.
func measured[C, R any](ctx context.Context, h *Handlers, name string, cmd C, meta events.Metadata,
	run func(context.Context, C, events.Metadata) (R, error)) (R, error) {
	start := time.Now()
	res, err := run(ctx, cmd, meta)
	h.metrics.Command(name, outcomeOf(err), time.Since(start))
	return res, err
}

// noResult adapts a command that returns only an error.
func noResult[C any](run func(context.Context, C, events.Metadata) error) func(context.Context, C, events.Metadata) (struct{}, error) {
	return func(ctx context.Context, cmd C, meta events.Metadata) (struct{}, error) {
		return struct{}{}, run(ctx, cmd, meta)
	}
}
