// Package app assembles the account service: servers, command handlers,
// relay, projectors, the session table and the HTTP API.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/httpapi"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/relay"
	"github.com/accountd/accountd/internal/sessions"
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
	// Sign-in throttling (zero: the API's defaults).
	AccountAttempts, AddressAttempts         int
	AccountAttemptEvery, AddressAttemptEvery time.Duration
}

// App is a running service.
type App struct {
	Platform *platform.Platform
	Commands *commands.Handlers
	Queries  *queries.Reader
	Progress *projections.Progress
	Sessions *sessions.Table
	API      *httpapi.API

	http     *http.Server
	listener net.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	log      *slog.Logger
}

// Start brings the service up; Close takes it down.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = password.Default()
	}
	cfg.Platform.Logger = cfg.Logger
	p, err := platform.Start(ctx, cfg.Platform)
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	a := &App{Platform: p, cancel: cancel, log: cfg.Logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if err := p.IndexIDs(ctx, projections.UsersCollection, projections.UsernamesCollection, projections.ParkedCollection); err != nil {
		return nil, fmt.Errorf("read model indexes: %w", err)
	}
	if _, err := relay.EnsureStream(ctx, p.JetStream, FeedStream, FeedSubject); err != nil {
		return nil, fmt.Errorf("event feed: %w", err)
	}
	a.Sessions = sessions.New(nil)
	ready := make(chan struct{})
	a.goRun("sessions", func() error { return a.Sessions.Follow(bg, p.ESDB, cfg.Logger, ready) })
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return nil, errors.New("session table did not catch up with the event log")
	}

	a.Commands, err = commands.New(commands.Config{
		Log: eventlog.New(p.ESDB), PasswordParams: cfg.PasswordParams, SessionTTL: cfg.SessionTTL, Sessions: a.Sessions,
	})
	if err != nil {
		return nil, err
	}
	a.Progress = projections.NewProgress()
	a.Queries = queries.NewReader(p.DB, a.Progress)

	rl := relay.New(relay.Config{Log: p.ESDB, JetStream: p.JetStream, Stream: FeedStream, Subject: FeedSubject, Logger: cfg.Logger})
	a.goRun("relay", func() error { return rl.Run(bg) })
	for _, proj := range projections.Projectors() {
		x := &projections.Executor{
			Projector: proj, JetStream: p.JetStream, Stream: FeedStream, Subject: FeedSubject,
			DB: p.DB, Progress: a.Progress, Logger: cfg.Logger,
		}
		a.goRun("projector "+proj.Name, func() error { return x.Run(bg) })
	}

	a.API, err = httpapi.New(httpapi.Config{
		Commands: a.Commands, Queries: a.Queries, Sessions: a.Sessions, Logger: cfg.Logger,
		Health:          func(ctx context.Context) error { return p.Mongo.Ping(ctx, nil) },
		AccountAttempts: cfg.AccountAttempts, AccountAttemptEvery: cfg.AccountAttemptEvery,
		AddressAttempts: cfg.AddressAttempts, AddressAttemptEvery: cfg.AddressAttemptEvery,
	})
	if err != nil {
		return nil, err
	}
	a.goRun("pruning", func() error {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return nil
			case <-t.C:
				a.API.Prune()
				a.Sessions.Prune()
			}
		}
	})

	a.listener, err = net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("HTTP listen on %s: %w", cfg.HTTPListen, err)
	}
	a.http = &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	srv, ln := a.http, a.listener
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("HTTP server stopped", "err", err)
		}
	}()
	return a, nil
}

// goRun runs a background component until the app closes.
func (a *App) goRun(name string, run func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := run(); err != nil {
			a.log.Error("component stopped", "component", name, "err", err)
		}
	}()
}

// Addr is the HTTP address.
func (a *App) Addr() string { return a.listener.Addr().String() }

// URL is the HTTP base URL.
func (a *App) URL() string { return "http://" + a.Addr() }

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
	a.cancel()
	a.wg.Wait()
	a.Platform.Close()
}
