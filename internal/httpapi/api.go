// Package httpapi is the thin HTTP transport of the account service. One
// middleware resolves the caller and the response language once per
// request; handlers decode, call a command or query, encode, and map errors
// in one function.
package httpapi

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/i18n"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/internal/scopes"
	"github.com/accountd/accountd/queries"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

//go:embed openapi.json
var openAPIDocument []byte

// Authenticator resolves a bearer credential.
type Authenticator interface {
	Authenticate(token, clientIP string) (principals.Principal, error)
	// Introspect reports a personal access token's state for the
	// platform's other services.
	Introspect(token string) (principals.Introspection, bool)
	// AccountOf tells an account's standing.
	AccountOf(userID string) principals.Account
}

// Metrics observes requests; nil observes nothing.
type Metrics interface {
	Request(route, method string, status int, elapsed time.Duration)
}

// Config wires the API.
type Config struct {
	Commands   *commands.Handlers
	Queries    *queries.Reader
	Principals Authenticator
	Logger     *slog.Logger
	// AccessLog gets one line per request: request id, method, route
	// template, status, duration, bytes, client address and user id; never
	// a header value, a body or a query string. Nil: no access log.
	AccessLog *slog.Logger
	Metrics   Metrics
	// Ready reports readiness: whether the service can serve, and a body
	// describing each component. Nil means always ready.
	Ready func(context.Context) (bool, any)
	// IntrospectionClients may call POST /v1/tokens/introspect, with HTTP
	// basic authentication (client id -> secret).
	IntrospectionClients map[string]string
	// Now is the clock (tests move it); nil: time.Now.
	Now func() time.Time
	// AllowedHosts are the host names the API answers for besides the
	// loopback ones; another Host gets 421 (but on /healthz and /readyz).
	AllowedHosts []string
	// AwaitPosition waits, within the read-your-writes budget, until the
	// read models named (projector names; nil: all of them) include a
	// position (a read's consistency token); an error: they did not. Nil:
	// tokens are not waited for.
	AwaitPosition func(ctx context.Context, position uint64, readModels []string) error
	// AwaitCredentials waits, within the read-your-writes budget, until
	// the credential index has read the log as far as it stands now and
	// position (a consistency token; 0: none); an error: it did not. A
	// credential the index does not know is checked again after it. Nil:
	// unknown is unknown at once.
	AwaitCredentials func(ctx context.Context, position uint64) error
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.AccessLog == nil {
		c.AccessLog = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every missing dependency at once.
func (c Config) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("httpapi: commands are required"))
	}
	if c.Queries == nil {
		errs = append(errs, errors.New("httpapi: queries are required"))
	}
	if c.Principals == nil {
		errs = append(errs, errors.New("httpapi: a principal index is required"))
	}
	return errors.Join(errs...)
}

// API is the HTTP handler.
type API struct {
	cmd        *commands.Handlers
	queries    *queries.Reader
	principals Authenticator
	log        *slog.Logger
	access     *slog.Logger
	metrics    Metrics
	ready      func(context.Context) (bool, any)
	catalogs   catalogs
	clients    map[string][32]byte // introspection client -> SHA-256 of its secret
	hosts      reqmeta.Hosts
	now        func() time.Time
	// awaitPosition: Config.AwaitPosition.
	awaitPosition awaitPositionFunc
	// awaitCredentials: Config.AwaitCredentials.
	awaitCredentials func(ctx context.Context, position uint64) error
	// readModels: the read models a route reads (reads); a route not in
	// it waits for all. Written by New only.
	readModels map[*mux.Route][]string

	router  *mux.Router
	handler http.Handler
	zones   i18n.Zones
}

// New builds the router.
func New(cfg Config) (*API, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	a := &API{
		cmd:        cfg.Commands,
		queries:    cfg.Queries,
		principals: cfg.Principals,
		log:        cfg.Logger,
		access:     cfg.AccessLog,
		metrics:    cfg.Metrics,
		ready:      cfg.Ready,
		catalogs:   cats,
		clients:    map[string][32]byte{},
		hosts:      reqmeta.NewHosts(cfg.AllowedHosts...),
		now:        cfg.Now,

		awaitPosition:    cfg.AwaitPosition,
		awaitCredentials: cfg.AwaitCredentials,
		readModels:       map[*mux.Route][]string{},
	}
	for id, secret := range cfg.IntrospectionClients {
		a.clients[id] = sha256.Sum256([]byte(secret))
	}
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { a.writeError(w, req, errNotFound) })
	r.MethodNotAllowedHandler = http.HandlerFunc(a.methodNotAllowed)
	r.Use(routeName)
	r.Use(a.consistency)
	r.HandleFunc("/healthz", getHealth).Methods(http.MethodGet)
	r.HandleFunc("/readyz", a.getReady).Methods(http.MethodGet)
	r.HandleFunc("/v1/openapi.json", getOpenAPI).Methods(http.MethodGet)
	r.HandleFunc("/problems/{kind}", a.getProblemType).Methods(http.MethodGet)
	r.HandleFunc("/v1/users", a.postUser).Methods(http.MethodPost)
	r.HandleFunc("/v1/sessions", a.postSession).Methods(http.MethodPost)
	r.HandleFunc("/v1/sessions/current", a.sessionOnly(a.deleteCurrentSession)).Methods(http.MethodDelete)
	a.reads(r.HandleFunc("/v1/auth/whoami", a.authorized("", a.getWhoami)).Methods(http.MethodGet)) // the credential index only
	a.reads(r.HandleFunc("/v1/me", a.authorized(scopes.ProfileRead, a.getMe)).Methods(http.MethodGet), readUsers)
	r.HandleFunc("/v1/me", a.authorized(scopes.ProfileWrite, a.patchMe)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/me/username", a.authorized(scopes.ProfileWrite, a.putUsername)).Methods(http.MethodPut)
	r.HandleFunc("/v1/me/password", a.sessionOnly(a.putPassword)).Methods(http.MethodPut)
	a.reads(r.HandleFunc("/v1/me/sessions", a.authorized(scopes.SessionsRead, a.getSessions)).Methods(http.MethodGet), readSessions)
	r.HandleFunc("/v1/me/sessions", a.sessionOnly(a.deleteOtherSessions)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/me/sessions/{id}", a.sessionOnly(a.deleteSession)).Methods(http.MethodDelete)
	a.reads(r.HandleFunc("/v1/me/tokens", a.authorized(scopes.TokensRead, a.getTokens)).Methods(http.MethodGet), readTokens)
	r.HandleFunc("/v1/me/tokens", a.authorized(scopes.TokensWrite, a.postToken)).Methods(http.MethodPost)
	r.HandleFunc("/v1/me/tokens", a.authorized(scopes.TokensWrite, a.deleteTokens)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/me/tokens/self/rotate", a.authorized(scopes.TokensWrite, a.rotateSelf)).Methods(http.MethodPost)
	a.reads(r.HandleFunc("/v1/me/tokens/{id}", a.authorized(scopes.TokensRead, a.getToken)).Methods(http.MethodGet), readTokens)
	r.HandleFunc("/v1/me/tokens/{id}", a.authorized(scopes.TokensWrite, a.patchToken)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/me/tokens/{id}", a.authorized(scopes.TokensWrite, a.deleteToken)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/me/tokens/{id}/rotate", a.authorized(scopes.TokensWrite, a.rotateToken)).Methods(http.MethodPost)
	r.HandleFunc("/v1/me/tokens/{id}/activity", a.authorized(scopes.TokensRead, a.getTokenActivity)).Methods(http.MethodGet)
	a.reads(r.HandleFunc("/v1/me/audit", a.authorized(scopes.AuditRead, a.getAudit)).Methods(http.MethodGet), readAudit)
	r.HandleFunc("/v1/usernames/{username}/history", a.adminOnly(a.getUsernameHistory)).Methods(http.MethodGet)
	r.HandleFunc("/v1/tokens/revoke", a.postRevokeTokens).Methods(http.MethodPost)
	r.HandleFunc("/v1/tokens/introspect", a.postIntrospect).Methods(http.MethodPost)
	a.reads(r.HandleFunc("/v1/profiles/{username}", a.getProfile).Methods(http.MethodGet), readUsernames, readUsers)
	r.HandleFunc("/v1/me", a.sessionOnly(a.deleteMe)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/me/picture", a.authorized(scopes.ProfileWrite, a.putPicture)).Methods(http.MethodPut)
	r.HandleFunc("/v1/me/picture", a.authorized(scopes.ProfileWrite, a.deletePicture)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/profiles/{username}/picture", a.getPicture).Methods(http.MethodGet)
	r.HandleFunc("/v1/me/credentials", a.authorized(scopes.CredentialsRead, a.getCredentials)).Methods(http.MethodGet)
	r.HandleFunc("/v1/me/credentials", a.authorized(scopes.CredentialsWrite, a.postCredential)).Methods(http.MethodPost)
	r.HandleFunc("/v1/me/credentials/{id}", a.authorized(scopes.CredentialsRead, a.getCredential)).Methods(http.MethodGet)
	r.HandleFunc("/v1/me/credentials/{id}", a.authorized(scopes.CredentialsWrite, a.patchCredential)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/me/credentials/{id}", a.authorized(scopes.CredentialsWrite, a.deleteCredential)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/me/credentials/{id}/reveal", a.sessionOnly(a.postReveal)).Methods(http.MethodPost)

	r.HandleFunc("/v1/me/notifications", a.authorized(scopes.NotificationsRead, a.getNotifications)).Methods(http.MethodGet)
	r.HandleFunc("/v1/me/notifications/preferences", a.authorized(scopes.NotificationsRead, a.getNotificationPreferences)).Methods(http.MethodGet)
	r.HandleFunc("/v1/me/notifications/preferences", a.authorized(scopes.NotificationsWrite, a.putNotificationPreferences)).Methods(http.MethodPut)
	r.HandleFunc("/v1/me/notifications/read-all", a.authorized(scopes.NotificationsWrite, a.postNotificationsReadAll)).Methods(http.MethodPost)
	r.HandleFunc("/v1/me/notifications/{id}/read", a.authorized(scopes.NotificationsWrite, a.postNotificationRead)).Methods(http.MethodPost)

	// Admins act on any account through the same resources.
	r.HandleFunc("/v1/admin/outbox", a.adminOnly(a.getOutbox)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/notifications", a.adminTarget(a.getNotifications)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/notifications/preferences", a.adminTarget(a.getNotificationPreferences)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users", a.adminOnly(a.getAdminUsers)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}", a.adminTarget(a.getAdminUser)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}", a.adminTarget(a.patchAdminUser)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/admin/users/{user}", a.adminTarget(a.deleteAdminUser)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/disable", a.adminTarget(a.postDisable)).Methods(http.MethodPost)
	r.HandleFunc("/v1/admin/users/{user}/enable", a.adminTarget(a.postEnable)).Methods(http.MethodPost)
	r.HandleFunc("/v1/admin/users/{user}/roles/{role}", a.adminTarget(a.putRole)).Methods(http.MethodPut)
	r.HandleFunc("/v1/admin/users/{user}/roles/{role}", a.adminTarget(a.deleteRole)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/username", a.adminTarget(a.putUsername)).Methods(http.MethodPut)
	r.HandleFunc("/v1/admin/users/{user}/picture", a.adminTarget(a.deletePicture)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/sessions", a.adminTarget(a.getSessions)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/sessions/{id}", a.adminTarget(a.deleteSession)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/tokens", a.adminTarget(a.getTokens)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/tokens", a.adminTarget(a.deleteTokens)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/tokens/{id}", a.adminTarget(a.getToken)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/tokens/{id}", a.adminTarget(a.deleteToken)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/credentials", a.adminTarget(a.getCredentials)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/credentials", a.adminTarget(a.postCredential)).Methods(http.MethodPost)
	r.HandleFunc("/v1/admin/users/{user}/credentials/{id}", a.adminTarget(a.getCredential)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/users/{user}/credentials/{id}", a.adminTarget(a.patchCredential)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/admin/users/{user}/credentials/{id}", a.adminTarget(a.deleteCredential)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/admin/users/{user}/audit", a.adminTarget(a.getAudit)).Methods(http.MethodGet)
	a.router = r
	a.handler = a.observe(a.resolveCaller(r))
	return a, nil
}

// methodNotAllowed answers 405 with the methods the path does allow.
func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if m == http.MethodHead {
			probe.Method = http.MethodGet // HEAD goes wherever GET does
		}
		var match mux.RouteMatch
		if a.router.Match(probe, &match) && match.MatchErr == nil {
			allowed = append(allowed, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	a.writeError(w, r, errMethod)
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Router exposes the routes, for the OpenAPI check.
func (a *API) Router() *mux.Router { return a.router }

func getOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}

// getHealth is liveness: the process serves HTTP. It checks nothing else,
// so a slow dependency never gets a healthy process restarted.
func getHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// getReady is readiness: the servers answer and every component is close
// enough to the head of the log.
func (a *API) getReady(w http.ResponseWriter, r *http.Request) {
	if a.ready == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	ok, body := a.ready(ctx)
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

// renderTime shows t in the given time zone (UTC if none is set).
func (a *API) renderTime(t time.Time, zone string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(a.location(zone)).Format(time.RFC3339)
}

// location is the named time zone, UTC when unnamed or unknown.
func (a *API) location(zone string) *time.Location { return a.zones.Location(zone) }

type noMetrics struct{}

func (noMetrics) Request(string, string, int, time.Duration) {}

// OpenAPIDocument is the API's OpenAPI document, as served.
func OpenAPIDocument() []byte { return openAPIDocument }
