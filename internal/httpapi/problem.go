package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/outcome"
	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/internal/validate"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Transport-level errors.
var (
	errUnauthorized      = errors.New("unauthorized")
	errNotFound          = errors.New("not found")
	errMethod            = errors.New("method not allowed")
	errBadPrecondition   = errors.New("malformed If-Match")
	errSessionRequired   = errors.New("only a sign-in session may do this")
	errAddressNotAllowed = errors.New("the token may not be used from this address")
	errIndexStale        = errors.New("credential checks are unavailable on this replica")
	errBadClient         = errors.New("introspection client not authenticated")
	errNoHolder          = errors.New("nobody held the name then")
	errAdminOnly         = errors.New("only an admin may do this")
	errAccountDisabled   = errors.New("the account is disabled")
	errMisdirected       = errors.New("the service does not answer for this host name")
)

// imageError: an uploaded picture cannot be used (422, or 413 when too
// large).
type imageError struct {
	status    int
	violation validate.Violation
}

func (e *imageError) Error() string { return "bad image: " + e.violation.Code }

// requestError is a body that could not be decoded into the request.
type requestError struct {
	status     int    // 400, 413 or 415
	kind       string // problem kind
	violations []validate.Violation
}

func (e *requestError) Error() string { return e.kind }

// writeError is the one place errors become HTTP responses.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	lang := responseLanguage(r)
	status, kind := http.StatusInternalServerError, "internal"
	var violations []validate.Violation
	var re *requestError
	var se *commands.ScopeError
	var afe *adminFieldError
	var ie *imageError
	detail := ""
	domain, isDomain := outcome.Of(err)
	switch {
	case isDomain:
		status, kind, violations = domain.Status, domain.Kind, domain.Violations
		if domain.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(domain.RetryAfter.Seconds()))))
		}
	case errors.As(err, &re):
		status, kind, violations = re.status, re.kind, re.violations
	case errors.Is(err, errBadPrecondition):
		status, kind = http.StatusBadRequest, "bad_precondition"
	case errors.As(err, &se):
		status, kind = http.StatusForbidden, "insufficient_scope"
		detail = a.catalogs.message(lang, "problem.insufficient_scope.detail", nil) + " " + strings.Join(se.Missing, ", ")
		w.Header().Set("WWW-Authenticate", `Bearer realm="accountd", error="insufficient_scope", scope="`+strings.Join(se.Missing, " ")+`"`)
	case errors.As(err, &afe):
		status, kind, violations = http.StatusForbidden, "admin_field", afe.violations
	case errors.Is(err, errAccountDisabled):
		status, kind = http.StatusForbidden, "account_disabled"
	case errors.As(err, &ie):
		status, kind, violations = ie.status, "bad_image", []validate.Violation{ie.violation}
		if ie.status == http.StatusRequestEntityTooLarge {
			kind = "payload_too_large"
		}
	case errors.Is(err, errAdminOnly):
		status, kind = http.StatusForbidden, "admin_required"
	case errors.Is(err, errNoHolder):
		status, kind = http.StatusNotFound, "not_found"
	case errors.Is(err, errSessionRequired):
		status, kind = http.StatusForbidden, "session_required"
	case errors.Is(err, errAddressNotAllowed):
		status, kind = http.StatusForbidden, "address_not_allowed"
	case errors.Is(err, errIndexStale):
		status, kind = http.StatusServiceUnavailable, "unavailable"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, errBadConsistencyToken):
		status, kind = http.StatusBadRequest, "bad_consistency_token"
	case errors.Is(err, errConsistencyTimeout):
		status, kind = http.StatusServiceUnavailable, "consistency_timeout"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, errBadClient):
		status, kind = http.StatusUnauthorized, "unauthorized"
		w.Header().Set("WWW-Authenticate", `Basic realm="accountd introspection"`)
	case errors.Is(err, errUnauthorized):
		status, kind = http.StatusUnauthorized, "unauthorized"
		w.Header().Set("WWW-Authenticate", `Bearer realm="accountd"`)
	case errors.Is(err, errNotFound):
		status, kind = http.StatusNotFound, "not_found"
	case errors.Is(err, errMethod):
		status, kind = http.StatusMethodNotAllowed, "method_not_allowed"
	case errors.Is(err, errMisdirected):
		status, kind = http.StatusMisdirectedRequest, "misdirected_request"
	case r.Context().Err() != nil:
		status, kind = 499, "unavailable" // the client went away; nobody reads this
	default:
		a.log.Error("request failed", "method", reqmeta.Method(r), "route", requestOf(r.Context()).route, "request_id", requestOf(r.Context()).id, "err", err)
	}
	p := problem{
		Type:     "/problems/" + kind,
		Title:    a.catalogs.message(lang, "problem."+kind+".title", nil),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
	}
	for _, v := range violations {
		p.Errors = append(p.Errors, fieldError{Field: v.Field, Code: v.Code, Message: a.catalogs.message(lang, v.Code, v.Params)})
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// problemKinds are the problem types the API uses; each has a page at
// /problems/<kind> (the type URI) with its title in both languages.
func problemKinds() []string {
	return []string{"validation", "malformed_request", "unsupported_media_type", "payload_too_large", "username_taken",
		"conflict", "precondition_failed", "bad_precondition", "unauthorized", "invalid_credentials", "not_found",
		"method_not_allowed", "rate_limited", "internal", "unavailable", "wrong_password", "insufficient_scope",
		"session_required", "address_not_allowed", "admin_required", "account_disabled", "admin_field", "field_locked", "last_admin",
		"disable_self", "bad_image", "token_limits", "misdirected_request", "busy", "bad_consistency_token", "consistency_timeout"}
}

// getProblemType is the page a problem's type URI resolves to.
func (a *API) getProblemType(w http.ResponseWriter, r *http.Request) {
	kind := mux.Vars(r)["kind"]
	if !slices.Contains(problemKinds(), kind) {
		a.writeError(w, r, errNotFound)
		return
	}
	lang := responseLanguage(r)
	title := html.EscapeString(a.catalogs.message(lang, "problem."+kind+".title", nil))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = fmt.Fprintf(w, "<!doctype html>\n<html lang=%q><meta charset=utf-8><title>%s</title>\n<h1>%s</h1>\n<p><code>/problems/%s</code>: %s</p>\n</html>\n",
		lang, title, title, kind, html.EscapeString(a.catalogs.message(lang, "problem.page", nil)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
