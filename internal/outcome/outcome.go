// Package outcome says what a use case's error means to an HTTP client:
// the status, the problem kind and the fields to correct. The API and the
// console both map domain errors here, so one error reads the same in both.
package outcome

import (
	"errors"
	"net/http"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/queries"
)

// Outcome is a domain error as a client sees it. Kind names the problem
// ("username_taken"); its title is the catalogs' "problem.<kind>.title".
type Outcome struct {
	Status     int
	Kind       string
	Violations []validate.Violation
	RetryAfter time.Duration // for rate_limited and busy
}

// Of classifies err, or reports false when it is no domain error (a
// transport's own, or a failure of ours).
func Of(err error) (Outcome, bool) {
	var ve *commands.ValidationError
	var te *commands.ThrottledError
	var le *commands.LimitsError
	var be *commands.BusyError
	var ue *commands.UnavailableError
	switch {
	case errors.As(err, &ve):
		return Outcome{Status: http.StatusUnprocessableEntity, Kind: "validation", Violations: ve.Violations}, true
	case errors.As(err, &te):
		return Outcome{Status: http.StatusTooManyRequests, Kind: "rate_limited", RetryAfter: te.RetryAfter}, true
	case errors.As(err, &le):
		return Outcome{Status: http.StatusForbidden, Kind: "token_limits", Violations: le.Violations}, true
	case errors.As(err, &be):
		return Outcome{Status: http.StatusServiceUnavailable, Kind: "busy", RetryAfter: be.RetryAfter}, true
	case errors.As(err, &ue):
		// The shared limits cannot be counted: refused, not a free pass.
		return Outcome{Status: http.StatusServiceUnavailable, Kind: "unavailable", RetryAfter: ue.RetryAfter}, true
	case errors.Is(err, commands.ErrUsernameTaken):
		return Outcome{Status: http.StatusConflict, Kind: "username_taken", Violations: []validate.Violation{{Field: "username", Code: "username.taken"}}}, true
	case errors.Is(err, commands.ErrWrongExpectedVersion):
		return Outcome{Status: http.StatusConflict, Kind: "conflict"}, true
	case errors.Is(err, commands.ErrPreconditionFailed):
		return Outcome{Status: http.StatusPreconditionFailed, Kind: "precondition_failed"}, true
	case errors.Is(err, commands.ErrInvalidCredentials):
		return Outcome{Status: http.StatusUnauthorized, Kind: "invalid_credentials"}, true
	case errors.Is(err, commands.ErrWrongPassword):
		return Outcome{Status: http.StatusForbidden, Kind: "wrong_password", Violations: []validate.Violation{{Field: "current_password", Code: "password.wrong"}}}, true
	case errors.Is(err, commands.ErrFieldLocked):
		return Outcome{Status: http.StatusForbidden, Kind: "field_locked", Violations: []validate.Violation{{Field: "full_name", Code: "full_name.locked"}}}, true
	case errors.Is(err, commands.ErrAccountDisabled):
		return Outcome{Status: http.StatusForbidden, Kind: "account_disabled"}, true
	case errors.Is(err, commands.ErrLastAdmin):
		return Outcome{Status: http.StatusConflict, Kind: "last_admin"}, true
	case errors.Is(err, commands.ErrDisableSelf):
		return Outcome{Status: http.StatusConflict, Kind: "disable_self"}, true
	case errors.Is(err, commands.ErrUserNotFound), errors.Is(err, commands.ErrSessionNotFound), errors.Is(err, commands.ErrTokenNotFound),
		errors.Is(err, commands.ErrCredentialNotFound), errors.Is(err, commands.ErrUnknownRole), errors.Is(err, commands.ErrPictureNotFound),
		errors.Is(err, commands.ErrNotificationNotFound), errors.Is(err, queries.ErrNotFound):
		return Outcome{Status: http.StatusNotFound, Kind: "not_found"}, true
	}
	return Outcome{}, false
}
