package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/httpapi"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/internal/relay"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// Component names, as the supervisor, /readyz and the metrics know them.
const (
	componentRelay        = "relay"
	componentPrincipals   = "principal-index"
	componentHousekeeping = "housekeeping"
	componentLagSampler   = "lag-sampler"
	componentIndexGuard   = "index-guard"
)

func projectorComponent(name string) string { return "projector/" + name }

// prepareFeedAndReadModels makes sure the JetStream feed and the read-model
// collections (with their _id indexes) exist.
func (a *App) prepareFeedAndReadModels(ctx context.Context) error {
	collections := []string{projections.ParkedCollection}
	for _, p := range projections.Projectors() {
		collections = append(collections, p.Collections...)
	}
	if err := a.Platform.IndexIDs(ctx, collections...); err != nil {
		return fmt.Errorf("read model indexes: %w", err)
	}
	if _, err := relay.EnsureStream(ctx, a.Platform.JetStream, FeedStream, FeedSubject); err != nil {
		return fmt.Errorf("event feed: %w", err)
	}
	return nil
}

// startPrincipals rebuilds the credential index from the log and keeps it
// following; the service serves nothing until the index has caught up.
func (a *App) startPrincipals(ctx context.Context) error {
	a.Principals = principals.New(nil, a.scopes)
	a.Supervisor.Go(a.bg, componentPrincipals, func(ctx context.Context) error {
		return a.Principals.Follow(ctx, a.Platform.ESDB)
	})
	select {
	case <-a.Principals.CaughtUp():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(a.cfg.CatchUpTimeout):
		return errors.New("the credential index did not catch up with the event log")
	}
}

// buildCommands wires the command side to the event log; every event it
// appends is told to the credential index and the read-your-writes tracker.
func (a *App) buildCommands(context.Context) error {
	a.Progress = projector.NewProgress()
	a.tracker = projector.NewTracker(a.Progress, projections.Projectors(), nil)
	var err error
	a.Commands, err = commands.New(commands.Config{
		Log:               eventlog.New(a.Platform.ESDB),
		PasswordParams:    a.cfg.PasswordParams,
		SessionTTL:        a.cfg.SessionTTL,
		Observers:         []commands.Observer{a.Principals, a.tracker},
		Directory:         a.Principals,
		Scopes:            a.scopes,
		MaxTokenLifetime:  a.cfg.MaxTokenLifetime,
		Metrics:           a.Metrics,
		SignIn:            a.cfg.SignInLimits,
		RegistrationLimit: a.cfg.RegistrationLimit,
		Logger:            a.log.With("component", "security"),
	})
	return err
}

// startReadSide runs the relay and one executor per projector, each under
// the supervisor.
func (a *App) startReadSide(context.Context) error {
	p := a.Platform
	a.relay = relay.New(relay.Config{Log: p.ESDB, JetStream: p.JetStream, Stream: FeedStream, Subject: FeedSubject, Logger: a.log})
	a.Supervisor.Go(a.bg, componentRelay, a.relay.Run)
	for _, proj := range projections.Projectors() {
		x := &projector.Executor{
			Projector: proj, JetStream: p.JetStream, Stream: FeedStream, Subject: FeedSubject,
			DB: p.DB, Progress: a.Progress, Logger: a.log, Metrics: a.Metrics,
		}
		a.executors = append(a.executors, x)
		a.Supervisor.Go(a.bg, projectorComponent(proj.Name), x.Run)
	}
	a.Queries = queries.NewReader(p.DB, a.tracker, a.cfg.ReadYourWritesTimeout)
	a.readiness = &readiness{app: a}
	return nil
}

// buildAPI wires the HTTP transport.
func (a *App) buildAPI(context.Context) error {
	var err error
	a.API, err = httpapi.New(httpapi.Config{
		Commands: a.Commands, Queries: a.Queries, Principals: a.Principals, Logger: a.log,
		AccessLog: a.cfg.AccessLog, IntrospectionClients: a.cfg.IntrospectionClients,
		Metrics: a.Metrics, MetricsHandler: a.Metrics.Handler(),
		Ready: func(ctx context.Context) (bool, any) {
			r := a.readiness.check(ctx)
			return r.Ready, r
		},
	})
	return err
}

// startHousekeeping prunes idle in-memory state and samples lag for the
// metrics.
func (a *App) startHousekeeping(context.Context) error {
	a.Supervisor.Go(a.bg, componentHousekeeping, func(ctx context.Context) error {
		return every(ctx, time.Minute, func() {
			a.Commands.Prune()
			a.tracker.Prune()
			a.Principals.Prune()
		})
	})
	a.Supervisor.Go(a.bg, componentIndexGuard, func(ctx context.Context) error {
		return every(ctx, time.Second, func() { a.guardIndex(ctx) })
	})
	a.Supervisor.Go(a.bg, componentLagSampler, func(ctx context.Context) error {
		return every(ctx, 5*time.Second, func() {
			checkCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			a.readiness.check(checkCtx)
		})
	})
	return nil
}

// guardIndex makes the credential index fail closed while it is further
// behind the log than allowed, or its follower is down: it would trust
// credentials revoked elsewhere.
func (a *App) guardIndex(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	st, _ := a.Supervisor.Of(componentPrincipals)
	behind, err := a.indexLag(ctx)
	if err != nil {
		a.guardFailures++
	} else {
		a.guardFailures = 0
	}
	// One slow check is not a stale index; three in a row may be.
	stale := !st.Running || a.guardFailures >= 3 || behind > a.cfg.TokenIndexMaxLag
	if stale != a.Principals.Stale() {
		a.log.Warn("credential index freshness changed", "stale", stale, "lag_events", behind, "follower_running", st.Running, "err", err)
	}
	a.Principals.SetStale(stale)
}

// indexLag counts the events the credential index has not read, up to one
// past the allowed lag.
func (a *App) indexLag(ctx context.Context) (uint64, error) {
	head, _, err := eventlog.Head(ctx, a.Platform.ESDB)
	if err != nil {
		return 0, err
	}
	pos, _ := a.Principals.Position()
	if pos >= head {
		return 0, nil
	}
	return eventlog.CountAfter(ctx, a.Platform.ESDB, pos, a.cfg.TokenIndexMaxLag+1)
}

func every(ctx context.Context, d time.Duration, f func()) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f()
		}
	}
}

// serveHTTP listens and serves the API.
func (a *App) serveHTTP(context.Context) error {
	var err error
	a.listener, err = net.Listen("tcp", a.cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("HTTP listen on %s: %w", a.cfg.HTTPListen, err)
	}
	a.http = &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	srv, ln := a.http, a.listener
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP server stopped", "err", err)
		}
	}()
	return nil
}
