// Package commands holds one file per use case: the command and a handler
// that loads state from the event log, decides, and appends with the
// expected revision.
package commands

import (
	"context"
	"errors"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/validate"
)

// Errors the transport maps to responses.
var (
	ErrUsernameTaken        = errors.New("username is taken")
	ErrUserNotFound         = errors.New("user not found")
	ErrPreconditionFailed   = errors.New("the resource changed since the version given")
	ErrInvalidCredentials   = errors.New("invalid username or password")
	ErrSessionNotFound      = errors.New("session not found")
	ErrWrongExpectedVersion = eventlog.ErrWrongExpectedVersion
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

// Config holds the handlers' dependencies; main wires them.
type Config struct {
	Log            *eventlog.Log
	PasswordParams password.Params
	SessionTTL     time.Duration
	Sessions       SessionRegistry
	Now            func() time.Time
	CacheSize      int
}

// SessionRegistry is told about sessions as soon as they start or end, so
// the very next request can use (or no longer use) its token.
type SessionRegistry interface {
	Started(events.SessionStartedV1)
	Ended(sessionID string)
}

// Handlers executes commands.
type Handlers struct {
	log          *eventlog.Log
	users        *eventlog.Repository[User]
	reservations *eventlog.Repository[Reservation]
	sessions     *eventlog.Repository[Session]
	registry     SessionRegistry
	params       password.Params
	sessionTTL   time.Duration
	now          func() time.Time
	// dummyHash is verified against when a sign-in names no account, so
	// that the answer takes as long as for a wrong password.
	dummyHash string
}

// New builds the handlers.
func New(cfg Config) (*Handlers, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10_000
	}
	dummy, err := password.Hash("no such account", cfg.PasswordParams)
	if err != nil {
		return nil, err
	}
	return &Handlers{
		log:          cfg.Log,
		users:        eventlog.NewRepository(cfg.Log, FoldUser, cfg.CacheSize),
		reservations: eventlog.NewRepository(cfg.Log, FoldReservation, cfg.CacheSize),
		sessions:     eventlog.NewRepository(cfg.Log, FoldSession, cfg.CacheSize),
		registry:     cfg.Sessions,
		params:       cfg.PasswordParams,
		sessionTTL:   cfg.SessionTTL,
		now:          cfg.Now,
		dummyHash:    dummy,
	}, nil
}

// Result of a command: the stream revision (the new ETag) and the $all
// position, which queries wait for to show the caller its own write.
type Result = eventlog.Result

// stamp completes the caller's metadata.
func (h *Handlers) stamp(meta events.Metadata) events.Metadata {
	meta.Time = h.now().UTC()
	return meta
}

// updateUser runs decide against the user's state and appends what it
// returns; a concurrent change makes it decide again on fresh state.
// expected, when not nil, is the version the caller saw (If-Match).
func (h *Handlers) updateUser(ctx context.Context, userID string, expected *uint64, meta events.Metadata,
	decide func(User) ([]eventlog.NewEvent, error)) (Result, User, error) {
	stream := events.UserStream(userID)
	for attempt := 0; attempt < 3; attempt++ {
		fresh := attempt > 0
		u, version, err := h.users.Load(ctx, stream, fresh)
		if err != nil {
			return Result{}, u, err
		}
		if !u.Exists() {
			if !fresh {
				continue // a cache may not know a brand-new account yet
			}
			return Result{}, u, ErrUserNotFound
		}
		if expected != nil && eventlog.Version(*expected) != version {
			if !fresh {
				continue
			}
			return Result{}, u, ErrPreconditionFailed
		}
		evs, err := decide(u)
		if err != nil || len(evs) == 0 {
			return Result{Revision: uint64(version)}, u, err
		}
		res, err := h.users.Append(ctx, stream, version, u, meta, evs...)
		if errors.Is(err, eventlog.ErrWrongExpectedVersion) {
			if expected != nil {
				return Result{}, u, ErrPreconditionFailed
			}
			continue
		}
		return res, u, err
	}
	return Result{}, User{}, eventlog.ErrWrongExpectedVersion
}

// User returns an account as the command side knows it, with its revision.
// It reads through the cache, which includes this process's own writes.
func (h *Handlers) User(ctx context.Context, userID string) (User, uint64, error) {
	u, version, err := h.users.Load(ctx, events.UserStream(userID), false)
	if err == nil && !u.Exists() {
		u, version, err = h.users.Load(ctx, events.UserStream(userID), true)
	}
	if err != nil {
		return u, 0, err
	}
	if !u.Exists() {
		return u, 0, ErrUserNotFound
	}
	return u, uint64(version), nil
}
