package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/reqmeta"
)

type ctxKey int

const keyRequest ctxKey = iota

// request is what the middleware resolved once for a request: its ids,
// the caller (if their credential is valid), the response language, and
// the route template once the router has matched one.
type request struct {
	id, correlationID string
	principal         principals.Principal
	signedIn          bool
	authErr           error // why a presented credential was refused
	lang              string
	route             string
	// subject is the account an admin route acts on ("": the caller's).
	subject string
}

func requestOf(ctx context.Context) *request {
	if r, ok := ctx.Value(keyRequest).(*request); ok {
		return r
	}
	return &request{}
}

// resolveCaller assigns a request id, adopts a caller's correlation id,
// and checks the bearer credential (in memory), which also gives the
// signed-in user's language. Nothing later in the request authenticates or
// loads the account again, errors included.
func (a *API) resolveCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := requestOf(r.Context())
		req.id, req.correlationID = reqmeta.IDs(r)
		w.Header().Set("X-Request-ID", req.id)
		if !a.hosts.Allows(r) && !probePath(r.URL.Path) {
			a.writeError(w, r, errMisdirected) // before any credential is looked at
			return
		}
		if token, ok := bearer(r); ok {
			req.principal, req.authErr = a.authenticate(r, token)
			if req.authErr == nil && req.principal.Credential.Browser {
				// A console session lives in its cookie: as a bearer token it
				// would skip the console's re-authentication.
				req.principal, req.authErr = principals.Principal{}, principals.ErrUnauthenticated
			}
			req.signedIn = req.authErr == nil
			a.afterAuthentication(w, r, req)
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate checks a bearer credential. One the index does not know is
// checked again once the index has read the log as far as it stood when
// the request came, and the request's consistency token: a replica behind
// the one that issued it a moment ago then knows it, or answers 503 to
// retry (ErrStale), never 401. Known credentials do not wait.
func (a *API) authenticate(r *http.Request, token string) (principals.Principal, error) {
	p, err := a.principals.Authenticate(token, clientIP(r))
	if !errors.Is(err, principals.ErrUnknown) || a.awaitCredentials == nil {
		return p, err
	}
	// A malformed token waits for nothing here; the consistency
	// middleware refuses it.
	position, _ := strconv.ParseUint(r.Header.Get(ConsistencyHeader), 10, 64)
	if err := a.awaitCredentials(r.Context(), position); err != nil {
		return principals.Principal{}, principals.ErrStale
	}
	return a.principals.Authenticate(token, clientIP(r))
}

// probePath: liveness and readiness answer for any Host. Orchestrators
// probe them by address (a kubelet sends the pod's IP as Host), and they
// hold no account data and change nothing, so a page that rebinds a name
// to the service gains nothing from them.
func probePath(path string) bool { return path == "/healthz" || path == "/readyz" }

// responseLanguage is the response language: the signed-in user's preference,
// else Accept-Language; negotiated once, when a response first needs it.
func responseLanguage(r *http.Request) string {
	req := requestOf(r.Context())
	if req.lang == "" {
		req.lang = negotiate(req.principal.Language, r)
	}
	return req.lang
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// observe is the outermost middleware: it gives the request its record,
// serves HEAD as GET without the body, measures the response and writes
// the access log line.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := &request{route: "unmatched"}
		sw := reqmeta.NewStatusWriter(w)
		inner := r.WithContext(context.WithValue(r.Context(), keyRequest, req))
		if r.Method == http.MethodHead {
			// Routed as GET; net/http drops the body of a HEAD response.
			inner.Method = http.MethodGet
		}
		next.ServeHTTP(sw, inner)
		elapsed := time.Since(start)
		method := reqmeta.Method(r)
		a.metrics.Request(req.route, method, sw.Status, elapsed)
		a.access.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", req.id),
			slog.String("method", method),
			slog.String("route", req.route),
			slog.Int("status", sw.Status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytes", sw.Bytes),
			slog.String("client", clientIP(r)),
			slog.String("user_id", req.principal.UserID),
		)
	})
}

// routeName records the matched route's template (never the raw path,
// which carries usernames).
func routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tmpl := reqmeta.RouteTemplate(r); tmpl != "" {
			requestOf(r.Context()).route = tmpl
		}
		next.ServeHTTP(w, r)
	})
}

// afterAuthentication does what a credential check calls for: a
// rotated-away token revokes the token it was rotated into; a token's
// responses say when it expires; uses are recorded (coarsely).
func (a *API) afterAuthentication(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := context.WithoutCancel(r.Context())
	var reuse *principals.ReuseError
	if errors.As(req.authErr, &reuse) {
		if err := a.cmd.ReportTokenReuse(ctx, commands.ReportTokenReuse{Digest: reuse.Digest, ClientIP: clientIP(r)}, metadata(r)); err != nil {
			a.log.Error("token reuse not recorded", "err", err)
		}
		return
	}
	if !req.signedIn {
		return
	}
	p := req.principal
	var err error
	switch p.Credential.Kind {
	case principals.KindToken:
		w.Header().Set("Accountd-Token-Expires", p.Credential.ExpiresAt.UTC().Format(time.RFC3339))
		err = a.cmd.NoteTokenUse(ctx, commands.NoteTokenUse{UserID: p.UserID, TokenID: p.Credential.ID, ClientIP: clientIP(r)}, metadata(r))
	case principals.KindSession:
		err = a.cmd.NoteSessionSeen(ctx, commands.NoteSessionSeen{UserID: p.UserID, SessionID: p.Credential.ID}, metadata(r))
	}
	if err != nil {
		a.log.Warn("credential use not recorded", "err", err)
	}
}

// authorized requires a valid credential that holds scope ("" for any).
func (a *API) authorized(scope string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := requestOf(r.Context())
		switch {
		case !req.signedIn:
			a.writeError(w, r, credentialError(req.authErr))
		case scope != "" && !req.principal.Holds(scope):
			a.writeError(w, r, &commands.ScopeError{Missing: []string{scope}})
		default:
			next(w, r)
		}
	}
}

// sessionOnly requires a sign-in session: some things a token can never do.
func (a *API) sessionOnly(next http.HandlerFunc) http.HandlerFunc {
	return a.authorized("", func(w http.ResponseWriter, r *http.Request) {
		if caller(r).Credential.Kind != principals.KindSession {
			a.writeError(w, r, errSessionRequired)
			return
		}
		next(w, r)
	})
}

// adminOnly requires a signed-in admin (a session; an admin's token may
// not act as an admin).
func (a *API) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	return a.sessionOnly(func(w http.ResponseWriter, r *http.Request) {
		if !a.isAdmin(caller(r)) {
			a.writeError(w, r, errAdminOnly)
			return
		}
		next(w, r)
	})
}

// isAdmin: the principal holds the admin role. Only the role counts:
// admins named in the configuration hold it by a recorded grant
// (commands.ConfiguredAdmin), never by the name they hold now.
func (a *API) isAdmin(p principals.Principal) bool {
	return p.Admin
}

func credentialError(err error) error {
	switch {
	case errors.Is(err, principals.ErrStale):
		return errIndexStale
	case errors.Is(err, principals.ErrAddressNotAllowed):
		return errAddressNotAllowed
	case errors.Is(err, principals.ErrAccountDisabled):
		return errAccountDisabled
	}
	return errUnauthorized
}

// subject is the account a request acts on: the caller's own, or on an
// admin route the one it names.
func subject(r *http.Request) string {
	req := requestOf(r.Context())
	if req.subject != "" {
		return req.subject
	}
	return req.principal.UserID
}

// caller is the signed-in principal ("" user id when anonymous).
func caller(r *http.Request) principals.Principal { return requestOf(r.Context()).principal }

// metadata describes who asks, for the events a command writes.
func metadata(r *http.Request) events.Metadata {
	req := requestOf(r.Context())
	var who *principals.Principal
	if req.signedIn {
		who = &req.principal
	}
	return reqmeta.Metadata(r, req.id, req.correlationID, who)
}

func clientIP(r *http.Request) string { return reqmeta.ClientIP(r) }
