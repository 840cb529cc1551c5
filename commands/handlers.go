// Package commands holds one file per use case. Each aggregate (user,
// username reservation, session) has its state, a pure fold and pure
// decisions; one function (update.go) owns load -> decide -> append with the
// expected revision -> retry.
package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/devices"
	"github.com/accountd/accountd/internal/lru"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/picture"
	"github.com/accountd/accountd/internal/ratelimit"
	"github.com/accountd/accountd/internal/scopes"
	"github.com/accountd/accountd/internal/validate"
)

// Domain errors the transport maps to responses.
var (
	ErrUsernameTaken      = errors.New("username is taken")
	ErrUserNotFound       = errors.New("user not found")
	ErrPreconditionFailed = errors.New("the resource changed since the version given")
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrSessionNotFound    = errors.New("session not found")
	// ErrWrongPassword: the current password given to confirm a change is
	// wrong (a sign-in's wrong password is ErrInvalidCredentials).
	ErrWrongPassword = errors.New("the current password is wrong")
	// ErrAccountDisabled: an admin disabled the account.
	ErrAccountDisabled = errors.New("the account is disabled")
	// ErrFieldLocked: an admin locked the field (the full name).
	ErrFieldLocked = errors.New("an admin has locked this field")
	// ErrLastAdmin: revoking one's own admin role would leave no admin.
	ErrLastAdmin = errors.New("the last admin cannot revoke their own role")
	// ErrUnknownRole: no such role.
	ErrUnknownRole = errors.New("no such role")
	// ErrDisableSelf: an admin cannot disable their own account.
	ErrDisableSelf = errors.New("an admin cannot disable their own account")
)

// ValidationError lists every broken input rule.
type ValidationError struct {
	Violations []validate.Violation
}

func (e *ValidationError) Error() string {
	if len(e.Violations) == 0 {
		return "invalid input"
	}
	return "invalid input: " + e.Violations[0].Field + ": " + e.Violations[0].Code
}

func invalid(vs []validate.Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{Violations: vs}
}

// ThrottledError: too many attempts; try again after RetryAfter.
type ThrottledError struct {
	RetryAfter time.Duration
	Scope      string // what was throttled: one of the Scope constants
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts (%s); retry after %s", e.Scope, e.RetryAfter)
}

// BusyError: this process is doing as much of that work as it takes at
// once (decoding pictures); try again after RetryAfter.
type BusyError struct {
	RetryAfter time.Duration
}

func (e *BusyError) Error() string { return fmt.Sprintf("busy; retry after %s", e.RetryAfter) }

// Observer is told of every event this process's commands append, as soon
// as it is durable: in-memory indexes use it so that the very next request
// sees the change, without waiting for the log to come round.
type Observer interface {
	Observe([]events.Recorded)
}

// Metrics counts what commands do; nil counts nothing.
type Metrics interface {
	// Command records one command's outcome ("ok", or an error kind) and
	// how long it took.
	Command(name, outcome string, took time.Duration)
	// Conflict records a lost race for a stream of category.
	Conflict(category string)
	// Throttled records a refused sign-in attempt.
	Throttled(scope string)
}

// Config holds the handlers' dependencies.
type Config struct {
	Log            EventLog
	PasswordParams password.Params
	SessionTTL     time.Duration
	Observers      []Observer
	Metrics        Metrics
	Now            func() time.Time
	CacheSize      int // streams cached per aggregate
	SignIn         SignInLimits
	// Devices issues and checks the device values that let an owner sign in
	// while their account is under a distributed guessing attack; nil: a
	// key of this process only (tests), which another replica would refuse.
	// The service derives the key from its secret key, shared by replicas.
	Devices *devices.Signer
	// RegistrationLimit bounds registrations per client address: each
	// costs an argon2id hash.
	RegistrationLimit Rate
	// PictureUploadLimit bounds picture uploads per account: each is
	// decoded, seconds of CPU and tens of MiB at worst.
	PictureUploadLimit Rate
	// Limits count every limit above (nil: NewMemoryLimits on Now, this
	// process's own; a service with several replicas gives shared ones).
	Limits Limits
	// PictureDecodes bounds the pictures this process decodes at once;
	// an upload waits up to PictureQueueWait for a turn, then is refused
	// as busy. PictureTimeout bounds one picture's processing.
	PictureDecodes   int
	PictureQueueWait time.Duration
	PictureTimeout   time.Duration
	// Logger receives security events (failed and throttled sign-ins).
	Logger *slog.Logger
	// Scopes tokens may be granted; nil: the built-in ones.
	Scopes *scopes.Registry
	// MaxTokenLifetime bounds how far ahead a token may expire.
	MaxTokenLifetime time.Duration
	// MaxLiveTokens bounds a user's tokens that are neither expired nor
	// revoked.
	MaxLiveTokens int
	// Directory finds credentials across streams; nil: none are found.
	Directory Directory
	// Keys destroys a deleted account's data key; nil: nothing is sealed.
	Keys KeyShredder
	// ConfiguredAdmins are the admins named in the configuration, turned
	// into recorded grants (configured_admins.go).
	ConfiguredAdmins []ConfiguredAdmin
}

// Directory is what commands need to know of credentials across streams:
// which user and token a token secret belongs to (current or rotated away),
// and a user's live sessions. The credential index answers, from the log.
type Directory interface {
	TokenByDigest(digest string) (userID, tokenID string, ok bool)
	SessionsOf(userID string) []string
	// Admins lists the accounts holding the admin role.
	Admins() []string
}

// KeyShredder destroys an account's data key, which makes the personal
// data its events carry unreadable (keystore.Store).
type KeyShredder interface {
	Destroy(ctx context.Context, owner string) error
}

// Rate is Burst attempts at once, then one more every Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// ParseRate reads "N/DURATION": N attempts per DURATION ("20/10m").
func ParseRate(s string) (Rate, error) {
	n, d, ok := strings.Cut(s, "/")
	burst, err := strconv.Atoi(n)
	if !ok || err != nil || burst < 1 {
		return Rate{}, fmt.Errorf("rate %q: want N/DURATION with N >= 1, like 20/10m", s)
	}
	per, err := time.ParseDuration(d)
	if err != nil || per <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/DURATION with a positive duration, like 20/10m", s)
	}
	return Rate{Burst: burst, Every: per / time.Duration(burst)}, nil
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.Burst, r.Every*time.Duration(r.Burst)) }

func (r Rate) valid() bool { return r.Burst >= 1 && r.Every > 0 }

// SignInLimits throttle failed password checks (sign-in and, later,
// password change) so that an attacker cannot turn them against the owner:
// failures on one account from one address are limited tightly, failures
// on one account from all addresses together only by a much higher
// ceiling (distributed guessing), and attempts from one address over all
// accounts separately. A storm from one address leaves the owner, on
// another address, able to sign in. A check that comes with proof of an
// earlier sign-in to the account (a device value, or the session asking to
// confirm the password) is counted per device or session instead, and the
// account-wide ceiling never blocks it: a distributed storm cannot lock the
// owner out of a device they signed in from before.
type SignInLimits struct {
	PerAccountAddress Rate // failures on one account from one address
	PerAccount        Rate // failures on one account from every address without a device
	PerAddress        Rate // attempts from one address, on any account
	PerDevice         Rate // failures from one known device (or session) of the account
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Limits == nil {
		c.Limits = NewMemoryLimits(c.Now)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 24 * time.Hour
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10_000
	}
	if c.PasswordParams == (password.Params{}) {
		c.PasswordParams = password.Default()
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.SignIn.PerAccountAddress == (Rate{}) {
		c.SignIn.PerAccountAddress = Rate{Burst: 5, Every: 20 * time.Second}
	}
	if c.SignIn.PerAccount == (Rate{}) {
		c.SignIn.PerAccount = Rate{Burst: 100, Every: 30 * time.Second}
	}
	if c.SignIn.PerAddress == (Rate{}) {
		c.SignIn.PerAddress = Rate{Burst: 30, Every: 2 * time.Second}
	}
	if c.SignIn.PerDevice == (Rate{}) {
		c.SignIn.PerDevice = Rate{Burst: 5, Every: 20 * time.Second}
	}
	if c.RegistrationLimit == (Rate{}) {
		c.RegistrationLimit = Rate{Burst: 20, Every: 30 * time.Second} // 20 per 10 minutes
	}
	if c.PictureUploadLimit == (Rate{}) {
		c.PictureUploadLimit = Rate{Burst: 10, Every: 6 * time.Minute} // 10 per hour
	}
	if c.PictureDecodes == 0 {
		c.PictureDecodes = 2
	}
	if c.PictureQueueWait == 0 {
		c.PictureQueueWait = 2 * time.Second
	}
	if c.PictureTimeout == 0 {
		c.PictureTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Scopes == nil {
		c.Scopes, _ = scopes.New(nil)
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = 366 * 24 * time.Hour
	}
	if c.MaxLiveTokens == 0 {
		c.MaxLiveTokens = 100
	}
	if c.Directory == nil {
		c.Directory = noDirectory{}
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Log == nil {
		errs = append(errs, errors.New("commands: an event log is required"))
	}
	if c.SessionTTL < time.Minute {
		errs = append(errs, fmt.Errorf("commands: session lifetime %s is shorter than a minute", c.SessionTTL))
	}
	if c.CacheSize < 1 {
		errs = append(errs, fmt.Errorf("commands: cache size %d must be positive", c.CacheSize))
	}
	for name, r := range map[string]Rate{"per account and address": c.SignIn.PerAccountAddress, "per account": c.SignIn.PerAccount,
		"per address": c.SignIn.PerAddress, "per device": c.SignIn.PerDevice, "registration": c.RegistrationLimit, "picture upload": c.PictureUploadLimit} {
		if !r.valid() {
			errs = append(errs, fmt.Errorf("commands: %s limit %+v must be positive", name, r))
		}
	}
	if c.PictureDecodes < 1 || c.PictureQueueWait < 0 || c.PictureTimeout <= 0 {
		errs = append(errs, fmt.Errorf("commands: picture decodes %d, queue wait %s and timeout %s must be positive", c.PictureDecodes, c.PictureQueueWait, c.PictureTimeout))
	}
	if c.MaxTokenLifetime < time.Hour {
		errs = append(errs, fmt.Errorf("commands: token lifetime %s is shorter than an hour", c.MaxTokenLifetime))
	}
	if c.MaxLiveTokens < 1 {
		errs = append(errs, fmt.Errorf("commands: %d live tokens per user must be positive", c.MaxLiveTokens))
	}
	return errors.Join(errs...)
}

// Handlers executes commands.
type Handlers struct {
	log          EventLog
	users        *repository[User]
	reservations *repository[Reservation]
	sessions     *repository[Session]
	tokens       *repository[Tokens]
	credentials  *repository[ServiceCredentials]
	inboxes      *repository[Inbox]
	pictures     *repository[struct{}]      // nothing is folded: pictures are appended and read by revision
	pictureCache *lru.Cache[string, []byte] // by content hash; this process's own, harmless: pictures never change
	picturePolicy
	tokenPolicy  tokenPolicy
	directory    Directory
	keys         KeyShredder
	uses         *useNotes
	observers    []Observer
	metrics      Metrics
	params       password.Params
	sessionTTL   time.Duration
	now          func() time.Time
	signIn       signInThrottle
	registration *limit
	limits       Limits
	security     *slog.Logger
	// dummyHash is verified against when a sign-in names no account, so
	// that the answer takes as long as for a wrong password.
	dummyHash string

	configuredAdmins []ConfiguredAdmin
	admins           *repository[ConfiguredAdmins]
	settled          *settledAdmins
	roles            *repository[RoleHolders]
}

// New builds the handlers.
func New(cfg Config) (*Handlers, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dummy, err := password.Hash("no such account", cfg.PasswordParams)
	if err != nil {
		return nil, err
	}
	if cfg.Devices == nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if cfg.Devices, err = devices.New(key, 0, cfg.Now); err != nil {
			return nil, err
		}
	}
	return &Handlers{
		log:          cfg.Log,
		users:        newRepository(cfg.Log, foldUser, cfg.CacheSize),
		reservations: newRepository(cfg.Log, foldReservation, cfg.CacheSize),
		sessions:     newRepository(cfg.Log, foldSession, cfg.CacheSize),
		tokens:       newRepository(cfg.Log, foldTokens, cfg.CacheSize),
		credentials:  newRepository(cfg.Log, foldCredentials, cfg.CacheSize),
		inboxes:      newRepository(cfg.Log, foldInbox, cfg.CacheSize),
		pictures:     newRepository(cfg.Log, func(s struct{}, _ events.Recorded) struct{} { return s }, 1),
		pictureCache: lru.New[string, []byte](32<<20, func(b []byte) int { return len(b) }),
		picturePolicy: picturePolicy{
			uploads: newLimit(cfg.Limits, LimitPictureUpload, cfg.PictureUploadLimit),
			gate:    picture.NewGate(cfg.PictureDecodes, cfg.PictureQueueWait),
			timeout: cfg.PictureTimeout,
		},
		tokenPolicy: tokenPolicy{scopes: cfg.Scopes, maxLifetime: cfg.MaxTokenLifetime, maxLive: cfg.MaxLiveTokens},
		directory:   cfg.Directory,
		keys:        cfg.Keys,
		uses:        newUseNotes(),
		observers:   cfg.Observers,
		metrics:     cfg.Metrics,
		params:      cfg.PasswordParams,
		sessionTTL:  cfg.SessionTTL,
		now:         cfg.Now,
		signIn: signInThrottle{
			accountAddress: newLimit(cfg.Limits, LimitSignInAccountAddress, cfg.SignIn.PerAccountAddress),
			account:        newLimit(cfg.Limits, LimitSignInAccount, cfg.SignIn.PerAccount),
			address:        newLimit(cfg.Limits, LimitSignInAddress, cfg.SignIn.PerAddress),
			known:          newLimit(cfg.Limits, LimitSignInDevice, cfg.SignIn.PerDevice),
			locks:          ratelimit.NewLocks(),
			devices:        cfg.Devices,
		},
		registration: newLimit(cfg.Limits, LimitRegistration, cfg.RegistrationLimit),
		limits:       cfg.Limits,
		security:     cfg.Logger,
		dummyHash:    dummy,

		configuredAdmins: cfg.ConfiguredAdmins,
		admins:           newRepository(cfg.Log, foldConfiguredAdmins, 1),
		settled:          &settledAdmins{},
		roles:            newRepository(cfg.Log, foldRoleHolders, len(grantable)),
	}, nil
}

// Names of the limiters (the shared limits' buckets are named after them).
const (
	LimitSignInAccountAddress = "signin-account-address"
	LimitSignInAccount        = "signin-account"
	LimitSignInAddress        = "signin-address"
	LimitSignInDevice         = "signin-device"
	LimitRegistration         = "registration"
	LimitPictureUpload        = "picture-upload"
)

// Prune forgets idle in-memory state; call it now and then.
func (h *Handlers) Prune() {
	if p, ok := h.limits.(interface{ Prune() }); ok {
		p.Prune() // limits kept in this process; shared ones expire by themselves
	}
	h.uses.prune(h.now())
}

// Scopes is the set of scopes tokens may be granted.
func (h *Handlers) Scopes() *scopes.Registry { return h.tokenPolicy.scopes }

// MaxTokenLifetime is how far ahead a token may expire.
func (h *Handlers) MaxTokenLifetime() time.Duration { return h.tokenPolicy.maxLifetime }

// Result of a command: the stream revision (the new ETag) and the $all
// position of the last event written, the consistency token a caller's
// next query waits for (0: nothing was written).
type Result struct {
	Revision uint64
	Position uint64
}

// stamp completes the caller's metadata with the time.
func (h *Handlers) stamp(meta events.Metadata) events.Metadata {
	meta.Time = h.now().UTC()
	return meta
}

func outcomeOf(err error) string {
	var ve *ValidationError
	var te *ThrottledError
	var se *ScopeError
	var le *LimitsError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ve), picture.Refused(err):
		return "invalid"
	case errors.As(err, &te):
		return "throttled"
	case errors.As(err, new(*BusyError)):
		return "busy"
	case errors.As(err, new(*UnavailableError)):
		return "unavailable"
	case errors.Is(err, ErrUsernameTaken), errors.Is(err, ErrPreconditionFailed), errors.Is(err, ErrWrongExpectedVersion):
		return "conflict"
	case errors.Is(err, ErrUserNotFound), errors.Is(err, ErrSessionNotFound), errors.Is(err, ErrTokenNotFound), errors.Is(err, ErrCredentialNotFound), errors.Is(err, ErrPictureNotFound), errors.Is(err, ErrNotificationNotFound):
		return "not_found"
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrWrongPassword), errors.Is(err, ErrAccountDisabled), errors.Is(err, ErrFieldLocked),
		errors.As(err, &se), errors.As(err, &le):
		return "denied"
	}
	return "error"
}

type noDirectory struct{}

func (noDirectory) TokenByDigest(string) (string, string, bool) { return "", "", false }
func (noDirectory) SessionsOf(string) []string                  { return nil }
func (noDirectory) Admins() []string                            { return nil }

type noMetrics struct{}

func (noMetrics) Command(string, string, time.Duration) {}
func (noMetrics) Conflict(string)                       {}
func (noMetrics) Throttled(string)                      {}
