// Package web is the console: the account pages, server-rendered with
// html/template from embedded files, plain forms (POST -> 303 -> GET) that
// work without JavaScript, calling the same commands and queries as the
// API. A sign-in session rides in a __Host- cookie; every state change is
// a POST checked by http.CrossOriginProtection; every response carries a
// Content-Security-Policy with its own nonce.
package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/i18n"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/queries"
)

// Authenticator resolves a session token and tells an account's standing.
type Authenticator interface {
	Authenticate(token, clientIP string) (principals.Principal, error)
	AccountOf(userID string) principals.Account
}

// Metrics observes requests; nil observes nothing.
type Metrics interface {
	Request(route, method string, status int, elapsed time.Duration)
}

// Config wires the console.
type Config struct {
	Commands   *commands.Handlers
	Queries    *queries.Reader
	Principals Authenticator
	Logger     *slog.Logger
	AccessLog  *slog.Logger
	Metrics    Metrics
	// InsecureCookies drops Secure and the __Host- prefix from cookies, for
	// plain-HTTP development hosts other than localhost (browsers accept
	// Secure cookies on http://localhost already).
	InsecureCookies bool
	SessionTTL      time.Duration
	Now             func() time.Time
	// AllowedHosts are the host names the console answers for besides the
	// loopback ones; another Host gets 421.
	AllowedHosts []string
	// Flashes keep one-time messages (and a new token's secret, shown
	// once) for the page a form redirects to, FlashTTL long at least;
	// Confirmations keep recent password confirmations, ReauthTTL long at
	// least. Several replicas share them (coord.Store); nil: this
	// process's own.
	Flashes, Confirmations StateStore
	// AwaitPosition waits, within the read-your-writes budget, until the
	// read models include a log position (the consistency cookie's); nil:
	// pages do not wait.
	AwaitPosition func(ctx context.Context, position uint64, readModels []string) error
	// AwaitCredentials waits, within the read-your-writes budget, until
	// the credential index has read the log as far as it stands now and
	// position (the consistency cookie's; 0: none); an error: it did not.
	// A session the index does not know is checked again after it. Nil:
	// unknown is unknown at once (and the cookie cleared).
	AwaitCredentials func(ctx context.Context, position uint64) error
}

// FlashTTL and ReauthTTL are how long the console's stores must keep
// their values.
const (
	FlashTTL  = flashFor
	ReauthTTL = reauthFor
)

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AccessLog == nil {
		c.AccessLog = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 24 * time.Hour
	}
	if c.Flashes == nil {
		c.Flashes = newMemoryState(c.Now, flashFor, maxFlashes)
	}
	if c.Confirmations == nil {
		c.Confirmations = newMemoryState(c.Now, reauthFor, maxConfirms)
	}
}

// Validate reports every missing dependency at once.
func (c Config) Validate() error {
	var errs []error
	if c.Commands == nil || c.Queries == nil || c.Principals == nil {
		errs = append(errs, errors.New("web: commands, queries and the principal index are required"))
	}
	return errors.Join(errs...)
}

// Console is the web console's handler.
type Console struct {
	cmd        *commands.Handlers
	queries    *queries.Reader
	principals Authenticator
	log        *slog.Logger
	access     *slog.Logger
	metrics    Metrics
	catalogs   i18n.Catalogs
	cookies    cookieNames
	secure     bool
	sessionTTL time.Duration
	now        func() time.Time
	pages      *pages
	static     *staticFiles
	flashes    StateStore // one-time messages, by session (or a random key)
	confirmed  StateStore // when sessions last confirmed the password
	handler    http.Handler
	router     *mux.Router
	zones      i18n.Zones
	hosts      reqmeta.Hosts
	agents     agentParser
	// awaitPosition: Config.AwaitPosition.
	awaitPosition func(ctx context.Context, position uint64, readModels []string) error
	// awaitCredentials: Config.AwaitCredentials.
	awaitCredentials func(ctx context.Context, position uint64) error
}

type cookieNames struct{ session, flash, device, consistency string }

// New builds the console.
func New(cfg Config) (*Console, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cats, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	static, err := loadStatic()
	if err != nil {
		return nil, err
	}
	c := &Console{cmd: cfg.Commands, queries: cfg.Queries, principals: cfg.Principals, log: cfg.Logger, access: cfg.AccessLog,
		metrics: cfg.Metrics, catalogs: cats, secure: !cfg.InsecureCookies, sessionTTL: cfg.SessionTTL,
		now: cfg.Now, static: static, flashes: cfg.Flashes, confirmed: cfg.Confirmations, hosts: reqmeta.NewHosts(cfg.AllowedHosts...), agents: newAgentParser(),
		awaitPosition: cfg.AwaitPosition, awaitCredentials: cfg.AwaitCredentials}
	if c.secure {
		c.cookies = cookieNames{session: "__Host-accountd_session", flash: "__Host-accountd_flash", device: "__Host-device", consistency: "__Host-consistency"}
	} else {
		c.cookies = cookieNames{session: "accountd_session", flash: "accountd_flash", device: "device", consistency: "consistency"}
	}
	if c.pages, err = loadPages(c); err != nil {
		return nil, err
	}
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusForbidden, "ui.error.cross_origin")
	}))
	c.handler = c.observe(c.checkHost(c.resolve(c.consistency(cop.Handler(c.router)))))
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

func (c *Console) routes() {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusNotFound, "ui.error.not_found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusMethodNotAllowed, "ui.error.method")
	})
	r.Use(routeName, c.decodeForm)
	get, post := http.MethodGet, http.MethodPost
	r.HandleFunc("/static/{name}", c.getStatic).Methods(get)
	r.HandleFunc("/", c.getHome).Methods(get)
	r.HandleFunc("/signup", c.getSignup).Methods(get)
	r.HandleFunc("/signup", c.postSignup).Methods(post)
	r.HandleFunc("/login", c.getLogin).Methods(get)
	r.HandleFunc("/login", c.postLogin).Methods(post)
	r.HandleFunc("/logout", c.getLogout).Methods(get)
	r.HandleFunc("/logout", c.signedIn(c.postLogout)).Methods(post)
	r.Handle("/settings", http.RedirectHandler("/settings/profile", http.StatusSeeOther)).Methods(get)
	r.HandleFunc("/reauth", c.signedIn(c.getReauth)).Methods(get)
	r.HandleFunc("/reauth", c.signedIn(c.postReauth)).Methods(post)
	r.HandleFunc("/settings/profile", c.signedIn(c.getProfile)).Methods(get)
	r.HandleFunc("/settings/profile", c.signedIn(c.postProfile)).Methods(post)
	r.HandleFunc("/settings/profile/picture", c.signedIn(c.postPicture)).Methods(post)
	r.HandleFunc("/settings/profile/picture/delete", c.signedIn(c.postPictureDelete)).Methods(post)
	r.HandleFunc("/settings/password", c.signedIn(c.getPassword)).Methods(get)
	r.HandleFunc("/settings/password", c.signedIn(c.postPassword)).Methods(post) // the form asks for the current password
	r.HandleFunc("/settings/tokens", c.signedIn(c.getTokens)).Methods(get)
	r.HandleFunc("/settings/tokens/new", c.signedIn(c.recentlyConfirmed("/settings/tokens/new", c.getNewToken))).Methods(get)
	r.HandleFunc("/settings/tokens/new", c.signedIn(c.recentlyConfirmed("/settings/tokens/new", c.postNewToken))).Methods(post)
	r.HandleFunc("/settings/tokens/created", c.signedIn(c.getTokenCreated)).Methods(get)
	r.HandleFunc("/settings/tokens/{id}", c.signedIn(c.getToken)).Methods(get)
	r.HandleFunc("/settings/tokens/{id}/enabled", c.signedIn(c.postTokenEnabled)).Methods(post)
	r.HandleFunc("/settings/tokens/{id}/delete", c.signedIn(c.getTokenDelete)).Methods(get)
	r.HandleFunc("/settings/tokens/{id}/delete", c.signedIn(c.postTokenDelete)).Methods(post)
	r.HandleFunc("/settings/sessions", c.signedIn(c.getSessions)).Methods(get)
	r.HandleFunc("/settings/sessions/end-others", c.signedIn(c.postEndOthers)).Methods(post)
	r.HandleFunc("/settings/sessions/{id}/end", c.signedIn(c.postEndSession)).Methods(post)
	r.HandleFunc("/settings/credentials", c.signedIn(c.getCredentials)).Methods(get)
	r.HandleFunc("/settings/credentials/new", c.signedIn(c.getCredentialForm)).Methods(get)
	r.HandleFunc("/settings/credentials/new", c.signedIn(c.postCredentialForm)).Methods(post)
	r.HandleFunc("/settings/credentials/{id}/edit", c.signedIn(c.getCredentialForm)).Methods(get)
	r.HandleFunc("/settings/credentials/{id}/edit", c.signedIn(c.postCredentialForm)).Methods(post)
	r.HandleFunc("/settings/credentials/{id}/delete", c.signedIn(c.getCredentialDelete)).Methods(get)
	r.HandleFunc("/settings/credentials/{id}/delete", c.signedIn(c.postCredentialDelete)).Methods(post)
	r.HandleFunc("/settings/credentials/{id}/reveal", c.signedIn(c.recentlyConfirmed("/settings/credentials", c.postReveal))).Methods(post)
	r.HandleFunc("/settings/notifications", c.signedIn(c.getNotificationSettings)).Methods(get)
	r.HandleFunc("/settings/notifications", c.signedIn(c.postNotificationSettings)).Methods(post)
	r.HandleFunc("/notifications", c.signedIn(c.getNotifications)).Methods(get)
	r.HandleFunc("/notifications/read-all", c.signedIn(c.postReadAll)).Methods(post)
	r.HandleFunc("/notifications/{id}/read", c.signedIn(c.postRead)).Methods(post)
	r.HandleFunc("/settings/security-log", c.signedIn(c.getSecurityLog)).Methods(get)
	r.HandleFunc("/settings/security-log.{format:ndjson|csv}", c.signedIn(c.getSecurityLogExport)).Methods(get)
	r.HandleFunc("/settings/account", c.signedIn(c.getAccount)).Methods(get)
	r.HandleFunc("/settings/account/delete", c.signedIn(c.recentlyConfirmed("/settings/account", c.postDeleteAccount))).Methods(post)
	r.HandleFunc("/admin/users", c.admin(c.getAdminUsers)).Methods(get)
	r.HandleFunc("/admin/users/{id}", c.admin(c.getAdminUser)).Methods(get)
	r.HandleFunc("/admin/users/{id}", c.admin(c.postAdminUser)).Methods(post)
	r.HandleFunc("/admin/users/{id}/{action:disable|enable}", c.admin(c.postAdminStanding)).Methods(post)
	r.HandleFunc("/{username}", c.getPublicProfile).Methods(get)
	c.router = r
}

// request is what the middleware resolved once for a request.
type request struct {
	id            string
	correlationID string
	principal     principals.Principal
	signedIn      bool
	// stale: this replica's credential index is too far behind the log to
	// tell; the caller is not signed out, the service is unavailable.
	stale bool
	lang  string
	nonce string
	route string
}

type ctxKey int

const keyRequest ctxKey = iota

func requestOf(ctx context.Context) *request {
	if r, ok := ctx.Value(keyRequest).(*request); ok {
		return r
	}
	return &request{}
}

// checkHost answers a request for a host name the console does not serve
// with a plain page, before any cookie is read: a page that rebinds its
// own name to this address must not drive the console.
func (c *Console) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.hosts.Allows(r) {
			next.ServeHTTP(w, r)
			return
		}
		lang := i18n.Negotiate("", r)
		title := html.EscapeString(c.catalogs.Message(lang, "problem.misdirected_request.title", nil))
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Language", lang)
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusMisdirectedRequest)
		_, _ = fmt.Fprintf(w, "<!doctype html>\n<html lang=%q><meta charset=utf-8><title>%s</title>\n<h1>%s</h1>\n</html>\n", lang, title, title)
	})
}

// resolve reads the session cookie once (only a console session can be
// one), picks the language and makes the response's CSP nonce.
func (c *Console) resolve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := requestOf(r.Context())
		if ck, err := r.Cookie(c.cookies.session); err == nil && ck.Value != "" {
			p, err := c.authenticate(r, ck.Value)
			switch {
			case err == nil && p.Credential.Kind == principals.KindSession && p.Credential.Browser:
				req.principal, req.signedIn = p, true
			case errors.Is(err, principals.ErrStale):
				req.stale = true
			default:
				c.clearCookie(w, c.cookies.session) // ended, expired or disabled: forget it
			}
		}
		req.lang = i18n.Negotiate(req.principal.Language, r)
		req.nonce = randomID()
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+req.nonce+"'; style-src 'self'; img-src 'self' data:; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Language", req.lang)
		if req.signedIn {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate checks a session cookie. A session the index does not know
// is checked again once the index has read the log as far as it stood when
// the request came, and the consistency cookie: a replica behind the one
// that signed the user in a moment ago then knows it, or the page is a 503
// to retry (ErrStale) and the cookie is kept; only a session still unknown
// then signs the browser out. Known sessions do not wait.
func (c *Console) authenticate(r *http.Request, token string) (principals.Principal, error) {
	p, err := c.principals.Authenticate(token, reqmeta.ClientIP(r))
	if !errors.Is(err, principals.ErrUnknown) || c.awaitCredentials == nil {
		return p, err
	}
	var position uint64
	if ck, err := r.Cookie(c.cookies.consistency); err == nil {
		position, _ = strconv.ParseUint(ck.Value, 10, 64) // malformed: 0, and cleared by the consistency middleware
	}
	if err := c.awaitCredentials(r.Context(), position); err != nil {
		return principals.Principal{}, principals.ErrStale
	}
	return c.principals.Authenticate(token, reqmeta.ClientIP(r))
}

// observe gives the request its record, serves HEAD as GET without the
// body (as the API does) and writes the access log line.
func (c *Console) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := &request{route: "unmatched"}
		req.id, req.correlationID = reqmeta.IDs(r)
		w.Header().Set("X-Request-ID", req.id)
		sw := reqmeta.NewStatusWriter(w)
		inner := r.WithContext(context.WithValue(r.Context(), keyRequest, req))
		if r.Method == http.MethodHead {
			inner.Method = http.MethodGet // net/http drops the body of a HEAD response
		}
		next.ServeHTTP(sw, inner)
		elapsed := time.Since(start)
		method := reqmeta.Method(r)
		if c.metrics != nil {
			c.metrics.Request("console "+req.route, method, sw.Status, elapsed)
		}
		c.access.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("request_id", req.id), slog.String("method", method),
			slog.String("route", req.route), slog.Int("status", sw.Status), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytes", sw.Bytes), slog.String("client", reqmeta.ClientIP(r)), slog.String("user_id", req.principal.UserID))
	})
}

// maxForm bounds a form's body; only the picture upload is larger.
const maxForm = 64 << 10

// pictureRoute reads its own multipart body, with the picture's limit.
const pictureRoute = "/settings/profile/picture"

// decodeForm parses every POST body once, before its handler runs: a body
// that is too large (413) or not a form (400) gets an error page and
// changes nothing, rather than reaching the handler as empty fields.
func (c *Console) decodeForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || requestOf(r.Context()).route == pictureRoute {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		// Only a form is one: Go would read any other body as no fields,
		// and an empty form would clear what it names.
		media, _, mediaErr := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var err error
		switch {
		case media == "multipart/form-data":
			err = r.ParseMultipartForm(maxForm) // all in memory: the body is at most maxForm
		case media == "application/x-www-form-urlencoded":
			err = r.ParseForm()
		case r.Header.Get("Content-Type") == "" && r.ContentLength == 0:
			err = r.ParseForm() // a bodiless POST: no fields
		default:
			err = errors.Join(errors.New("not a form"), mediaErr)
		}
		if err != nil {
			if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
				c.renderError(w, r, http.StatusRequestEntityTooLarge, "ui.error.too_large")
				return
			}
			c.renderError(w, r, http.StatusBadRequest, "ui.error.bad_form")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tmpl := reqmeta.RouteTemplate(r); tmpl != "" {
			requestOf(r.Context()).route = tmpl
		}
		next.ServeHTTP(w, r)
	})
}

// signedIn requires a session; the sign-in page comes back here after.
func (c *Console) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if requestOf(r.Context()).stale {
			w.Header().Set("Retry-After", "1")
			c.renderError(w, r, http.StatusServiceUnavailable, "problem.unavailable.title")
			return
		}
		if !requestOf(r.Context()).signedIn {
			if r.Method != http.MethodGet {
				c.renderError(w, r, http.StatusUnauthorized, "ui.error.signed_out")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

// admin requires an admin's session.
func (c *Console) admin(next http.HandlerFunc) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		if !c.isAdmin(caller(r)) {
			c.renderError(w, r, http.StatusForbidden, "ui.error.admin_only")
			return
		}
		next(w, r)
	})
}

// isAdmin: the principal holds the admin role (only the role counts, as
// in the API).
func (c *Console) isAdmin(p principals.Principal) bool {
	return p.Admin
}

// recentlyConfirmed requires the password confirmed within reauthFor
// (re-authentication) before a sensitive step. After confirming, a GET
// comes back to itself; a POST (which cannot be repeated by a redirect)
// to the page its form was on, else back.
func (c *Console) recentlyConfirmed(back string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.confirmedRecently(r.Context(), caller(r).Credential.ID) {
			target := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				target = refererPath(r, back)
			}
			http.Redirect(w, r, "/reauth?next="+url.QueryEscape(target), http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

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

// setCookie writes a console cookie: HttpOnly, SameSite=Lax, Secure and
// __Host- prefixed unless insecure cookies were asked for.
func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(maxAge.Seconds())})
}

// setDeviceCookie keeps the device value (commands.SignIn.Device) that
// lets this browser sign in while the account is under a distributed
// guessing attack: SameSite=Strict, since only the console's own sign-in
// form needs it; it outlives the session (signing out keeps it).
func (c *Console) setDeviceCookie(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: c.cookies.device, Value: value, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode,
		Expires: expires})
}

func (c *Console) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// safeNext accepts a local path only ("/settings/tokens?x=1"), else def:
// never "//evil.example", "/\\evil.example", "https://...", nor a path
// with control characters, which browsers strip before they resolve it
// ("/\t/evil.example" is "//evil.example" to them).
func safeNext(next, def string) string {
	for _, ch := range next {
		if ch < 0x20 || ch == 0x7f || ch == '\\' {
			return def
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") {
		return def
	}
	return u.RequestURI()
}

// refererPath is the path of a Referer from this site, else def.
func refererPath(r *http.Request, def string) string {
	u, err := url.Parse(r.Referer())
	if err != nil || u.Host != r.Host {
		return def
	}
	return safeNext(u.RequestURI(), def)
}
