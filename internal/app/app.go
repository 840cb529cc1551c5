// Package app assembles the account service: servers, the credential
// index, command handlers, relay, projectors, queries and the HTTP API,
// each background component under one supervisor.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/httpapi"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/mailer"
	"github.com/accountd/accountd/internal/metrics"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/internal/relay"
	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/internal/scopes"
	"github.com/accountd/accountd/internal/supervise"
	"github.com/accountd/accountd/internal/web"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// JetStream names of the event feed.
const (
	FeedStream  = "ACCOUNT_EVENTS"
	FeedSubject = "account.events"
)

// Config configures the service.
type Config struct {
	Platform       platform.Config
	HTTPListen     string
	PasswordParams password.Params
	SessionTTL     time.Duration
	Logger         *slog.Logger
	// AccessLog gets one line per HTTP request (nil: none).
	AccessLog *slog.Logger
	// ConsoleNow is the web console's clock for its own timers (password
	// confirmations, one-time messages); tests move it. Nil: time.Now.
	ConsoleNow func() time.Time
	// Sign-in throttling and the registration limit (zero: the defaults of
	// commands).
	SignInLimits      commands.SignInLimits
	RegistrationLimit commands.Rate
	// PictureUploadLimit bounds profile picture uploads per account (zero:
	// the default of commands, 10 an hour).
	PictureUploadLimit commands.Rate
	// ReadYourWritesTimeout bounds how long a query waits for the read
	// models to include the caller's own latest write.
	ReadYourWritesTimeout time.Duration
	// Readiness: /readyz is 503 while a component is further behind the
	// log than this many events or this long.
	ReadyMaxLagEvents uint64
	ReadyMaxLag       time.Duration
	// Restarts of failed components back off from MinRestartBackoff,
	// doubling up to MaxRestartBackoff.
	MinRestartBackoff, MaxRestartBackoff time.Duration
	// CatchUpTimeout bounds the start: the credential index must have read
	// the log by then.
	CatchUpTimeout time.Duration
	// Scopes are extra token scopes of the platform's services (name ->
	// description).
	Scopes map[string]string
	// IntrospectionClients may introspect tokens (client id -> secret).
	IntrospectionClients map[string]string
	// MaxTokenLifetime bounds how far ahead a token may expire.
	MaxTokenLifetime time.Duration
	// TokenIndexMaxStaleness: a credential index staler than this (the
	// time since the newest probe of the log's head, every 250 ms, whose
	// head it had applied) refuses every credential (503) until it catches
	// up, and /readyz is 503. Zero: 1 s.
	TokenIndexMaxStaleness time.Duration
	// Admins are the configured admins: usernames, or account ids as
	// id:<uuid> (a bare uuid is an id too). Each is granted the admin role
	// once, as a recorded event, to the first account that answers to it
	// (commands.ConfiguredAdmin); only the role is checked on requests.
	Admins []string
	// AuditRetention: audit entries older than this are removed.
	AuditRetention time.Duration
	// Projectors are the read models (nil: projections.Projectors()).
	Projectors []projections.Projector
	// SecretKey (base64 of 32 bytes) wraps the accounts' data keys; empty:
	// the one kept in the data directory, generated on first use (only
	// without external servers: with them it must be given).
	SecretKey string
	// SMTP is the relay that sends the e-mail outbox
	// (smtp://[user:password@]host:port?from=address); empty: e-mails stay
	// in the outbox, where admins see them.
	SMTP string
	// ReminderEvery is how often expiry reminders are looked for.
	ReminderEvery time.Duration
	// MailEvery is how often the outbox is sent (zero: 10 s).
	MailEvery time.Duration
	// InsecureCookies: the console's cookies without Secure and the
	// __Host- prefix, for plain-HTTP development hosts other than
	// localhost; refused unless HTTP listens on a loopback address.
	InsecureCookies bool
	// SwapGrace is how long an old read model generation is kept after a
	// swap, for queries that resolved its names just before.
	SwapGrace time.Duration
	// MetricsListen is where GET /metrics is served, on a listener of its
	// own (so the public port never shows it); "" or "off": nowhere.
	MetricsListen string
	// ReplicaID names this replica in /readyz, its logs and the leases it
	// holds (empty: the host name, "-" and 6 random hex characters, new at
	// every start).
	ReplicaID string
	// PinnedTTL is how long a projector's consumer stays pinned to a
	// replica that stopped pulling without giving it up (a crash) before a
	// standby replica takes over (zero: projector.DefaultPinnedTTL, 10 s).
	PinnedTTL time.Duration
	// AllowedHosts are host names the API and the console answer for,
	// besides the loopback names and the HTTP listen host; a request for
	// another gets 421.
	AllowedHosts []string
	// TrustedProxies are the proxies in front of the service: from a peer
	// in them, the client's address is taken from X-Forwarded-For (the
	// rightmost one not in them). None: the peer is the client.
	TrustedProxies []netip.Prefix
}

// metricsOff: MetricsListen values that serve no metrics.
func metricsOff(listen string) bool { return listen == "" || listen == "off" }

// allowedHosts are the host names the API and the console answer for.
func (c Config) allowedHosts() []string {
	hosts := append([]string{}, c.AllowedHosts...)
	if host, _, err := net.SplitHostPort(c.HTTPListen); err == nil {
		if ip, err := netip.ParseAddr(host); host != "" && (err != nil || !ip.IsUnspecified()) {
			hosts = append(hosts, host) // a wildcard address is no name a client uses
		}
	}
	// The host of --public-url joins these once that flag exists.
	return hosts
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReplicaID == "" {
		c.ReplicaID = newReplicaID()
	}
	c.Logger = c.Logger.With("replica", c.ReplicaID)
	if c.PasswordParams == (password.Params{}) {
		c.PasswordParams = password.Default()
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 24 * time.Hour
	}
	if c.HTTPListen == "" {
		c.HTTPListen = "127.0.0.1:8080"
	}
	if c.ReadYourWritesTimeout == 0 {
		c.ReadYourWritesTimeout = 2 * time.Second
	}
	if c.ReadyMaxLagEvents == 0 {
		c.ReadyMaxLagEvents = 1000
	}
	if c.ReadyMaxLag == 0 {
		c.ReadyMaxLag = 10 * time.Second
	}
	if c.MinRestartBackoff == 0 {
		c.MinRestartBackoff = 100 * time.Millisecond
	}
	if c.MaxRestartBackoff == 0 {
		c.MaxRestartBackoff = 30 * time.Second
	}
	if c.CatchUpTimeout == 0 {
		c.CatchUpTimeout = 5 * time.Minute
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = 366 * 24 * time.Hour
	}
	if c.TokenIndexMaxStaleness == 0 {
		c.TokenIndexMaxStaleness = time.Second
	}
	if c.MailEvery == 0 {
		c.MailEvery = 10 * time.Second
	}
	if c.ReminderEvery == 0 {
		c.ReminderEvery = 5 * time.Minute
	}
	if c.SwapGrace == 0 {
		c.SwapGrace = 10 * time.Second
	}
	if c.Projectors == nil {
		c.Projectors = projections.Projectors()
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = 400 * 24 * time.Hour
	}
	c.Platform.Logger = c.Logger
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
		errs = append(errs, fmt.Errorf("HTTP listen address %q: %w", c.HTTPListen, err))
	}
	if err := password.Validate(c.PasswordParams); err != nil {
		errs = append(errs, err)
	}
	if c.SessionTTL < time.Minute {
		errs = append(errs, fmt.Errorf("session lifetime %s is shorter than a minute", c.SessionTTL))
	}
	if c.ReadYourWritesTimeout < 0 || c.ReadyMaxLag < 0 || c.CatchUpTimeout < 0 || c.TokenIndexMaxStaleness < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if c.MinRestartBackoff < 0 || c.MaxRestartBackoff < c.MinRestartBackoff {
		errs = append(errs, fmt.Errorf("restart backoff %s..%s is not a range", c.MinRestartBackoff, c.MaxRestartBackoff))
	}
	if err := c.Platform.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := scopes.New(c.Scopes); err != nil {
		errs = append(errs, err)
	}
	for id, secret := range c.IntrospectionClients {
		if id == "" || len(secret) < 16 {
			errs = append(errs, fmt.Errorf("introspection client %q: needs an id and a secret of at least 16 characters", id))
		}
	}
	if c.SecretKey != "" {
		if _, err := keystore.ParseKey(c.SecretKey); err != nil {
			errs = append(errs, fmt.Errorf("secret key: %w", err))
		}
	} else if c.Platform.External() {
		// Replicas share external servers: a key generated here would be
		// this replica's alone, and what it seals no other could open.
		errs = append(errs, errors.New("with an external server URL the secret key must be given (ACCOUNTD_SECRET_KEY or --secret-key-file, the same on every replica); it is never generated"))
	} else if c.Platform.DataDir == "" {
		errs = append(errs, errors.New("a secret key is required (ACCOUNTD_SECRET_KEY) when there is no data directory"))
	}
	if c.InsecureCookies {
		host, _, _ := net.SplitHostPort(c.HTTPListen)
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("insecure cookies are for loopback development only, not for HTTP on %s", c.HTTPListen))
		}
	}
	if c.SMTP != "" {
		if _, err := mailer.ParseRelay(c.SMTP); err != nil {
			errs = append(errs, fmt.Errorf("SMTP relay: %w", err))
		}
	}
	if c.AuditRetention < 24*time.Hour {
		errs = append(errs, fmt.Errorf("audit retention %s is shorter than a day", c.AuditRetention))
	}
	if !metricsOff(c.MetricsListen) {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics listen address %q: %w", c.MetricsListen, err))
		} else if c.MetricsListen == c.HTTPListen && !strings.HasSuffix(c.HTTPListen, ":0") {
			errs = append(errs, fmt.Errorf("metrics listen address %q is the HTTP one: metrics need a listener of their own", c.MetricsListen))
		}
	}
	for _, h := range c.AllowedHosts {
		if !reqmeta.ValidHost(h) {
			errs = append(errs, fmt.Errorf("allowed host %q: want a host name or IP address (a port is ignored)", h))
		}
	}
	if c.MaxTokenLifetime < time.Hour {
		errs = append(errs, fmt.Errorf("token lifetime %s is shorter than an hour", c.MaxTokenLifetime))
	}
	if _, err := commands.ParseConfiguredAdmins(c.Admins); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// App is a running service.
type App struct {
	Platform   *platform.Platform
	Commands   *commands.Handlers
	Queries    *queries.Reader
	Progress   *projector.Progress
	Principals *principals.Index
	API        *httpapi.API
	Console    *web.Console
	// Handler serves the API and the console.
	Handler    http.Handler
	Metrics    *metrics.Metrics
	Supervisor *supervise.Supervisor
	Catalog    *projector.Catalog
	Keys       *keystore.Store
	// Coord is what the replicas share beyond the log: leases, limits,
	// read-model checkpoints and the console's short-lived state (JetStream
	// KV).
	Coord *coord.Coord
	// ReplicaID names this process among the replicas.
	ReplicaID string

	cfg     Config
	scopes  *scopes.Registry
	log     *slog.Logger
	tracker *projector.Tracker
	relay   *relay.Relay
	// checkpoints: how far each read model has come, on any replica.
	checkpoints *coord.Checkpoints
	projectors  []projections.Projector
	mu          sync.Mutex
	executors   map[string]*projector.Executor // the live generation's, per projector
	rebuilds    map[string][2]uint64           // background rebuilds: done, total
	readiness   *readiness
	// guardFailures counts failed freshness checks in a row (the guard's
	// goroutine only).
	guardFailures int
	started       time.Time
	// settings: whether this replica's settings agree with the others'.
	settings settingsCheck
	// indexStaleness is the credential index's staleness as its guard
	// last measured it (nanoseconds).
	indexStaleness atomic.Int64
	// heads reads the log's head for credentials the index does not know.
	heads *headReader

	http     *http.Server
	listener net.Listener
	bg       context.Context // background components run until Close
	cancel   context.CancelFunc

	// metricsHTTP serves /metrics on its own listener (nil: none).
	metricsHTTP     *http.Server
	metricsListener net.Listener
}

// Start brings the service up; Close takes it down. On error, whatever was
// started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := platform.Start(ctx, cfg.Platform)
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	m := metrics.New()
	a := &App{
		Platform: p, Metrics: m, cfg: cfg, log: cfg.Logger, bg: bg, cancel: cancel,
		ReplicaID: cfg.ReplicaID, started: time.Now().UTC(), projectors: cfg.Projectors, executors: map[string]*projector.Executor{}, rebuilds: map[string][2]uint64{},
		Supervisor: supervise.New(supervise.Config{Logger: cfg.Logger, Metrics: m, MinBackoff: cfg.MinRestartBackoff, MaxBackoff: cfg.MaxRestartBackoff}),
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.scopes, err = scopes.New(cfg.Scopes); err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{
		a.openKeys,
		a.openCoord,
		a.prepareFeedAndReadModels,
		a.startPrincipals,
		a.buildCommands,
		a.grantConfiguredAdmins,
		a.startReadSide,
		a.buildAPI,
		a.buildConsole,
		a.startHousekeeping,
		a.startSettingsCheck,
		a.serveHTTP,
		a.serveMetrics,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Addr is the HTTP address.
func (a *App) Addr() string { return a.listener.Addr().String() }

// URL is the HTTP base URL.
func (a *App) URL() string { return "http://" + a.Addr() }

// MetricsAddr is the metrics listener's address ("" when there is none).
func (a *App) MetricsAddr() string {
	if a.metricsListener == nil {
		return ""
	}
	return a.metricsListener.Addr().String()
}

// Close stops HTTP (letting requests in flight finish), the background
// components, then the servers.
func (a *App) Close() {
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = a.http.Shutdown(ctx)
		cancel()
	} else if a.listener != nil {
		_ = a.listener.Close()
	}
	if a.metricsHTTP != nil {
		_ = a.metricsHTTP.Close() // a scrape in flight is repeated by the next one
	} else if a.metricsListener != nil {
		_ = a.metricsListener.Close()
	}
	a.cancel()
	a.Supervisor.Wait()
	a.Platform.Close()
}
