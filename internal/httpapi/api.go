// Package httpapi is the thin HTTP transport of the account service:
// decode, call a command or query, encode, and map errors in one function.
package httpapi

import (
	"context"
	_ "embed"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/ratelimit"
	"github.com/accountd/accountd/internal/sessions"
	"github.com/accountd/accountd/queries"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

//go:embed openapi.json
var openAPIDocument []byte

// Config wires the API.
type Config struct {
	Commands *commands.Handlers
	Queries  *queries.Reader
	Sessions *sessions.Table
	Logger   *slog.Logger
	// Health reports whether the service can serve; nil means always.
	Health func(context.Context) error
	// ReadYourWritesTimeout bounds how long a query waits for the read
	// models to include the caller's own latest write.
	ReadYourWritesTimeout time.Duration
	// Sign-in throttling: per account and per client address.
	AccountAttempts, AddressAttempts         int
	AccountAttemptEvery, AddressAttemptEvery time.Duration
	Now                                      func() time.Time
}

// API is the HTTP handler.
type API struct {
	cmd      *commands.Handlers
	queries  *queries.Reader
	sessions *sessions.Table
	log      *slog.Logger
	health   func(context.Context) error
	catalogs catalogs
	seen     *seenWrites
	waitFor  time.Duration

	accountLimiter, addressLimiter *ratelimit.Limiter
	signInLocks                    *ratelimit.Locks

	router *mux.Router
	zones  sync.Map // time zone name -> *time.Location
}

// New builds the router.
func New(cfg Config) (*API, error) {
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadYourWritesTimeout <= 0 {
		cfg.ReadYourWritesTimeout = 2 * time.Second
	}
	if cfg.AccountAttempts <= 0 {
		cfg.AccountAttempts, cfg.AccountAttemptEvery = 5, 20*time.Second
	}
	if cfg.AddressAttempts <= 0 {
		cfg.AddressAttempts, cfg.AddressAttemptEvery = 30, 2*time.Second
	}
	a := &API{
		cmd:            cfg.Commands,
		queries:        cfg.Queries,
		sessions:       cfg.Sessions,
		log:            cfg.Logger,
		health:         cfg.Health,
		catalogs:       cats,
		seen:           newSeenWrites(cfg.Now),
		waitFor:        cfg.ReadYourWritesTimeout,
		accountLimiter: ratelimit.New(cfg.AccountAttempts, cfg.AccountAttemptEvery, cfg.Now),
		addressLimiter: ratelimit.New(cfg.AddressAttempts, cfg.AddressAttemptEvery, cfg.Now),
		signInLocks:    ratelimit.NewLocks(),
	}
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { a.writeError(w, req, errNotFound) })
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { a.writeError(w, req, errMethod) })
	r.Use(a.requestContext)
	r.HandleFunc("/healthz", a.getHealth).Methods(http.MethodGet)
	r.HandleFunc("/v1/openapi.json", getOpenAPI).Methods(http.MethodGet)
	r.HandleFunc("/v1/users", a.postUser).Methods(http.MethodPost)
	r.HandleFunc("/v1/sessions", a.postSession).Methods(http.MethodPost)
	r.HandleFunc("/v1/sessions/current", a.signedIn(a.deleteCurrentSession)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/me", a.signedIn(a.getMe)).Methods(http.MethodGet)
	r.HandleFunc("/v1/me", a.signedIn(a.patchMe)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/me/username", a.signedIn(a.putUsername)).Methods(http.MethodPut)
	r.HandleFunc("/v1/profiles/{username}", a.getProfile).Methods(http.MethodGet)
	a.router = r
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// Router exposes the routes, for the OpenAPI check.
func (a *API) Router() *mux.Router { return a.router }

// Prune drops idle rate-limit and read-your-writes state; call it now and then.
func (a *API) Prune() {
	a.accountLimiter.Prune()
	a.addressLimiter.Prune()
	a.seen.prune()
}

func getOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}

func (a *API) getHealth(w http.ResponseWriter, r *http.Request) {
	if a.health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.health(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// --- request context --------------------------------------------------------

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyCorrelationID
	keyPrincipal
)

var safeID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestContext assigns a request id and adopts a caller's correlation id.
func (a *API) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		correlation := r.Header.Get("X-Correlation-ID")
		if !safeID.MatchString(correlation) {
			correlation = id
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		ctx = context.WithValue(ctx, keyCorrelationID, correlation)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

func principal(ctx context.Context) (sessions.Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(sessions.Principal)
	return p, ok
}

// signedIn requires a valid bearer token.
func (a *API) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authenticate(r)
		if !ok {
			a.writeError(w, r, errUnauthorized)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)))
	}
}

func (a *API) authenticate(r *http.Request) (sessions.Principal, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return sessions.Principal{}, false
	}
	return a.sessions.Authenticate(strings.TrimSpace(token))
}

// metadata describes who asks, for the events a command writes.
func (a *API) metadata(r *http.Request) events.Metadata {
	m := events.Metadata{
		Actor:       "anonymous",
		CausationID: requestID(r.Context()),
		ClientIP:    clientIP(r),
		UserAgent:   truncate(r.UserAgent(), 256),
	}
	m.CorrelationID, _ = r.Context().Value(keyCorrelationID).(string)
	if p, ok := principal(r.Context()); ok {
		m.Actor = p.UserID
	}
	return m
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// language is the caller's: the signed-in user's preference, else
// Accept-Language.
func (a *API) language(r *http.Request) string {
	preferred := ""
	p, ok := principal(r.Context())
	if !ok {
		p, ok = a.authenticate(r)
	}
	if ok {
		if u, _, err := a.cmd.User(r.Context(), p.UserID); err == nil {
			preferred = u.Profile.PreferredLanguage
		}
	}
	return negotiate(preferred, r)
}

// renderTime shows t in the user's time zone (UTC if none is set).
func (a *API) renderTime(t time.Time, zone string) string {
	if t.IsZero() {
		return ""
	}
	loc := time.UTC
	if zone != "" {
		if cached, ok := a.zones.Load(zone); ok {
			loc = cached.(*time.Location)
		} else if l, err := time.LoadLocation(zone); err == nil {
			a.zones.Store(zone, l)
			loc = l
		}
	}
	return t.In(loc).Format(time.RFC3339)
}
