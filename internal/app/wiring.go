package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/devices"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/httpapi"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/mailer"
	"github.com/accountd/accountd/internal/notifier"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/internal/relay"
	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/internal/sharedlimits"
	"github.com/accountd/accountd/internal/web"
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
	componentRetention    = "audit-retention"
	componentCatalog      = "read-model-catalog"
	componentErasure      = "erasure"
	componentSessionEnds  = "session-ends"
	componentNotifier     = "notifier"
	componentReminders    = "reminders"
	componentMailer       = "mailer"
	componentCheckpoints  = "checkpoints"
	componentSettings     = "replica-settings"

	componentConfiguredAdmins = "configured-admins"
)

// relayLease names the lease whose holder runs the relay.
const relayLease = "relay"

func projectorComponent(name string) string { return "projector/" + name }

func rebuildComponent(name string) string { return "rebuild/" + name }

// prepareFeedAndReadModels makes sure the JetStream feed and the read-model
// collections (with their _id indexes) exist.
func (a *App) prepareFeedAndReadModels(ctx context.Context) error {
	collections := []string{projections.ParkedCollection, projector.CatalogCollection, keystore.Collection}
	gens, err := projector.ReadGenerations(ctx, a.Platform.DB)
	if err != nil {
		return err
	}
	for _, p := range a.projectors {
		for _, c := range p.Collections {
			collections = append(collections, c+gens[p.Name].Suffix())
		}
	}
	if err := a.Platform.IndexIDs(ctx, collections...); err != nil {
		return fmt.Errorf("read model indexes: %w", err)
	}
	// As many copies as the coordination buckets: 3 on a NATS cluster.
	_, err = relay.EnsureStream(ctx, a.Platform.JetStream, FeedStream, FeedSubject, CoordReplicas(a.Platform.NATS))
	if errors.Is(err, relay.ErrReplicasNotRaised) {
		// It serves with fewer copies; the next start tries again.
		a.log.Warn("event feed", "err", err)
	} else if err != nil {
		return fmt.Errorf("event feed: %w", err)
	}
	return nil
}

// startPrincipals rebuilds the credential index from the log and keeps it
// following; the service serves nothing until the index has caught up.
func (a *App) startPrincipals(ctx context.Context) error {
	a.Principals = principals.New(nil, a.scopes)
	a.heads = a.newHeadReader()
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
func (a *App) buildCommands(ctx context.Context) error {
	a.Progress = projector.NewProgress()
	a.tracker = projector.NewTracker(a.Progress, a.projectors, nil)
	admins, err := commands.ParseConfiguredAdmins(a.cfg.Admins)
	if err != nil {
		return err
	}
	// Device values are signed with a key derived from the secret key, so
	// every replica with the same secret key accepts the others' values.
	deviceKey, err := a.Keys.Derive(devices.Purpose)
	if err != nil {
		return err
	}
	signer, err := devices.New(deviceKey, 0, nil)
	if err != nil {
		return err
	}
	a.Commands, err = commands.New(commands.Config{
		Log:               eventlog.Sealed{EventLog: eventlog.New(a.Platform.ESDB), Keys: a.Keys},
		PasswordParams:    a.cfg.PasswordParams,
		SessionTTL:        a.cfg.SessionTTL,
		Observers:         []commands.Observer{a.Principals, a.tracker},
		Directory:         a.Principals,
		Keys:              a.Keys,
		Scopes:            a.scopes,
		MaxTokenLifetime:  a.cfg.MaxTokenLifetime,
		Metrics:           a.Metrics,
		SignIn:            a.cfg.SignInLimits,
		Devices:           signer,
		RegistrationLimit: a.cfg.RegistrationLimit,
		Logger:            a.log.With("component", "security"),
		ConfiguredAdmins:  admins,
		// Picture uploads per account.
		PictureUploadLimit: a.cfg.PictureUploadLimit,
		// Every limit counts across replicas (shared); sign-ins are
		// refused while it cannot be counted.
		Limits: sharedlimits.New(a.Coord, nil),
	})
	if err != nil {
		return err
	}
	// The shared limits' buckets exist before the replica serves; if NATS
	// refuses now, each limit is asked again on first use.
	prepareCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.Commands.PrepareLimits(prepareCtx); err != nil {
		a.log.Warn("shared limits not prepared; each is prepared on first use", "err", err)
	}
	return nil
}

// grantConfiguredAdmins turns the configured admins whose accounts exist
// into recorded grants before the service serves, and keeps looking for
// the others: registration and rename grant at once on the replica that
// serves them; this pass catches what they could not (a failure, a
// replica of an older version, a grant interrupted by a crash). Settled
// admins cost nothing; the log decides, so replicas agree.
func (a *App) grantConfiguredAdmins(ctx context.Context) error {
	if len(a.cfg.Admins) == 0 {
		return nil
	}
	pass := func(ctx context.Context, first bool) {
		waiting, err := a.Commands.GrantConfiguredAdmins(ctx, events.Metadata{Actor: events.ActorSystem})
		if err != nil && ctx.Err() == nil {
			a.log.Warn("configured admins not all granted; retrying", "err", err)
		}
		if first {
			for _, c := range waiting {
				a.log.Info("configured admin waits for its account", "configured_as", c.Key())
			}
		}
	}
	pass(ctx, true)
	a.Supervisor.Go(a.bg, componentConfiguredAdmins, func(ctx context.Context) error {
		return every(ctx, 10*time.Second, func() { pass(ctx, false) })
	})
	return nil
}

// startReadSide runs the relay and one executor per projector, each under
// the supervisor.
func (a *App) startReadSide(ctx context.Context) error {
	p := a.Platform
	// One relay across the replicas: the lease's holder runs it, the
	// others wait quietly for the lease. The stream's expected last
	// sequence and message ids fence a holder that lost the lease unaware.
	a.relay = relay.New(relay.Config{Log: p.ESDB, JetStream: p.JetStream, Stream: FeedStream, Subject: FeedSubject, Logger: a.log})
	lease := &coord.Lease{Coord: a.Coord, Name: relayLease, Holder: a.cfg.ReplicaID, Logger: a.log}
	a.Supervisor.Go(a.bg, componentRelay, func(ctx context.Context) error {
		return lease.Run(ctx, func(ctx context.Context, _ uint64) error { return a.relay.Run(ctx) })
	})
	var err error
	if a.Catalog, err = projector.LoadCatalog(ctx, p.DB, a.projectors); err != nil {
		return err
	}
	// Every replica follows every read model's checkpoint, whichever
	// replica applies it, so a read with a consistency token waits here
	// for a write made anywhere.
	if a.checkpoints, err = a.Coord.Checkpoints(ctx); err != nil {
		return err
	}
	a.Supervisor.Go(a.bg, componentCheckpoints, func(ctx context.Context) error {
		return a.checkpoints.Watch(ctx, func(consumer string, position uint64) {
			for _, proj := range a.projectors {
				if consumer == proj.Name+a.Catalog.Suffix(proj.Name) {
					a.Progress.Advance(proj.Name, position)
				}
			}
		})
	})
	for _, proj := range a.projectors {
		live := a.Catalog.Live(proj.Name)
		if err := projector.DropOtherGenerations(ctx, p.DB, p.JetStream, FeedStream, proj, live); err != nil {
			a.log.Warn("old read model generations not dropped", "projector", proj.Name, "err", err)
		}
		a.Supervisor.Go(a.bg, projectorComponent(proj.Name), func(ctx context.Context) error { return a.runProjector(ctx, proj) })
		if version := max(proj.Version, 1); version > live.Version {
			// One replica rebuilds (leased; accountctl rebuild takes the
			// same lease); the others stand by and find it done.
			a.Supervisor.Go(a.bg, rebuildComponent(proj.Name), func(ctx context.Context) error {
				if holder, err := a.Coord.Holder(ctx, RebuildLease(proj.Name)); err == nil && holder != "" {
					a.log.Info("read model rebuild runs elsewhere; standing by", "projector", proj.Name, "holder", holder)
				}
				err := a.leased(RebuildLease(proj.Name), func(ctx context.Context) error { return a.rebuildOnce(ctx, proj, version) })(ctx)
				if err != nil {
					return err
				}
				<-ctx.Done() // done (here or elsewhere): nothing left to do
				return nil
			})
		}
	}
	a.Supervisor.Go(a.bg, componentCatalog, func(ctx context.Context) error {
		return every(ctx, time.Second, func() {
			if _, err := a.Catalog.Refresh(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("read model catalog not refreshed", "err", err)
			}
		})
	})
	n := &notifier.Notifier{Commands: a.Commands, Keys: a.Keys, JetStream: p.JetStream, Stream: FeedStream, Subject: FeedSubject, Logger: a.log,
		PinnedTTL: a.cfg.PinnedTTL}
	a.Supervisor.Go(a.bg, componentNotifier, n.Run)
	a.Queries = queries.NewReader(p.DB, a.tracker, a.cfg.ReadYourWritesTimeout)
	a.Queries.Standings(a.Principals) // one home, one freshness: see queries.Standings
	a.Queries.Collections(a.Catalog.Collection)
	a.Queries.Keys(a.Keys, keystore.ErrErased)
	a.readiness = &readiness{app: a}
	return nil
}

// runProjector runs the executor of a projector's live generation; when a
// rebuild swaps in a new generation, it switches to it and drops the old
// one's collections and consumer after a grace period for queries in
// flight.
func (a *App) runProjector(ctx context.Context, proj projections.Projector) error {
	for {
		live := a.Catalog.Live(proj.Name)
		x := &projector.Executor{
			Projector: proj, JetStream: a.Platform.JetStream, Stream: FeedStream, Subject: FeedSubject,
			DB: a.Platform.DB, Progress: a.Progress, Logger: a.log, Metrics: a.Metrics, Suffix: live.Suffix(), Keys: a.Keys,
			PinnedTTL: a.cfg.PinnedTTL, Checkpoints: a.checkpoints,
		}
		a.setExecutor(proj.Name, x)
		runCtx, stop := context.WithCancel(ctx)
		go func() {
			for {
				changed := a.Catalog.Changed()
				if a.Catalog.Live(proj.Name).Number != live.Number {
					stop()
					return
				}
				select {
				case <-runCtx.Done():
					return
				case <-changed:
				}
			}
		}()
		err := x.Run(runCtx)
		stop()
		if ctx.Err() != nil {
			return nil
		}
		now := a.Catalog.Live(proj.Name)
		if now.Number == live.Number {
			return err
		}
		a.log.Info("read model swapped", "projector", proj.Name, "from", live.Number, "to", now.Number)
		go func() {
			time.Sleep(a.cfg.SwapGrace) // queries that resolved the old names finish
			if err := projector.DropOtherGenerations(context.WithoutCancel(ctx), a.Platform.DB, a.Platform.JetStream, FeedStream, proj, now); err != nil {
				a.log.Warn("old read model generation not dropped", "projector", proj.Name, "err", err)
			}
		}()
	}
}

// rebuildOnce rebuilds a read model whose code is newer than the live
// generation, serving the old one meanwhile; it returns once the live
// generation is new enough. Run under the rebuild's lease.
func (a *App) rebuildOnce(ctx context.Context, proj projections.Projector, version int) error {
	if _, err := a.Catalog.Refresh(ctx); err != nil {
		return err // another holder may have swapped it in: decide on the catalog as it is
	}
	if a.Catalog.Live(proj.Name).Version >= version {
		return nil // done (by this run or another)
	}
	a.log.Info("rebuilding read model: its code is newer", "projector", proj.Name, "version", version)
	g, err := projector.Rebuild(ctx, projector.Build{Projector: proj, JetStream: a.Platform.JetStream, Stream: FeedStream, Subject: FeedSubject,
		DB: a.Platform.DB, Logger: a.log, Prepare: a.Platform.IndexIDs, Keys: a.Keys,
		Progress: func(done, total uint64) { a.setRebuildProgress(proj.Name, done, total) }}, version)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("rebuild %s: %w", proj.Name, err)
	}
	if _, err := a.Catalog.Refresh(ctx); err != nil {
		return err
	}
	a.log.Info("read model rebuilt and swapped in", "projector", proj.Name, "generation", g.Number)
	return nil
}

// awaitPosition waits until the checkpoints of the read models named (nil:
// all; on whichever replica applies them) cover position, within the
// read-your-writes budget. Consumers see every event, so any position is
// reached by all of them.
func (a *App) awaitPosition(ctx context.Context, position uint64, readModels []string) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ReadYourWritesTimeout)
	defer cancel()
	wait := a.projectors
	if readModels != nil {
		wait = slices.DeleteFunc(slices.Clone(a.projectors), func(p projections.Projector) bool { return !slices.Contains(readModels, p.Name) })
		if len(wait) != len(readModels) {
			wait = a.projectors // a name no read model has: all of them, the safe side
		}
	}
	for _, p := range wait {
		if err := a.Progress.Wait(ctx, p.Name, position); err != nil {
			return err
		}
	}
	return nil
}

func (a *App) setExecutor(name string, x *projector.Executor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.executors[name] = x
}

func (a *App) executor(name string) *projector.Executor {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.executors[name]
}

func (a *App) setRebuildProgress(name string, done, total uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rebuilds[name] = [2]uint64{done, total}
}

// buildAPI wires the HTTP transport.
func (a *App) buildAPI(context.Context) error {
	var err error
	a.API, err = httpapi.New(httpapi.Config{
		Commands: a.Commands, Queries: a.Queries, Principals: a.Principals, Logger: a.log,
		AccessLog: a.cfg.AccessLog, IntrospectionClients: a.cfg.IntrospectionClients,
		Metrics: a.Metrics, AllowedHosts: a.cfg.allowedHosts(),
		AwaitPosition: a.awaitPosition, AwaitCredentials: a.awaitCredentials,
		Ready: func(ctx context.Context) (bool, any) {
			r := a.readiness.check(ctx)
			return r.Ready, r
		},
	})
	return err
}

// buildConsole wires the web console, and the one handler that serves it
// and the API: the API's paths to the API, every other path to the
// console.
func (a *App) buildConsole(ctx context.Context) error {
	flashes, confirmations, err := a.consoleState(ctx)
	if err != nil {
		return err
	}
	a.Console, err = web.New(web.Config{
		Commands: a.Commands, Queries: a.Queries, Principals: a.Principals, Logger: a.log, AccessLog: a.cfg.AccessLog,
		Metrics: a.Metrics, InsecureCookies: a.cfg.InsecureCookies, SessionTTL: a.cfg.SessionTTL,
		Now: a.cfg.ConsoleNow, AllowedHosts: a.cfg.allowedHosts(),
		Flashes: flashes, Confirmations: confirmations,
		AwaitPosition: a.awaitPosition, AwaitCredentials: a.awaitCredentials,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	// /metrics is not among them: it has a listener of its own.
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/problems/"} {
		mux.Handle(p, a.API)
	}
	mux.Handle("/", a.Console)
	// The client's address is resolved once, for the API and the console.
	a.Handler = reqmeta.TrustProxies(a.cfg.TrustedProxies, mux)
	return nil
}

// startHousekeeping prunes idle in-memory state and samples lag for the
// metrics.
func (a *App) startHousekeeping(ctx context.Context) error {
	a.Supervisor.Go(a.bg, componentHousekeeping, func(ctx context.Context) error {
		return every(ctx, time.Minute, func() {
			a.Commands.Prune()
			a.tracker.Prune()
			a.Principals.Prune()
		})
	})
	// Audit retention, erasure, reminders and the mailer run on one
	// replica at a time (leased); the rest is harmless on every replica.
	a.Supervisor.Go(a.bg, componentRetention, a.leased(leaseRetention, func(ctx context.Context) error {
		prune := func() {
			if err := projector.PruneAudit(ctx, a.Platform.DB, a.Catalog.Suffix(projections.AuditProjector().Name), time.Now().Add(-a.cfg.AuditRetention)); err != nil && ctx.Err() == nil {
				a.log.Warn("audit retention", "err", err)
			}
		}
		prune()
		return every(ctx, time.Hour, prune)
	}))
	a.Supervisor.Go(a.bg, componentErasure, a.leased(leaseErasure, func(ctx context.Context) error {
		// done: erasures this holder finished (a hint; finishing one again
		// changes nothing).
		done := map[string]bool{}
		finish := func() {
			for id, username := range a.Principals.Deleted() {
				if done[id] || ctx.Err() != nil {
					continue
				}
				meta := events.Metadata{Actor: events.ActorSystem, Time: time.Now().UTC()}
				if _, err := a.Commands.EraseDeleted(ctx, id, username, meta); err != nil {
					a.log.Warn("erasure of a deleted account not finished; retrying", "user_id", id, "err", err)
					continue
				}
				done[id] = true
			}
		}
		finish()
		return every(ctx, 30*time.Second, finish)
	}))
	// Sessions an account ended (a password change, the account disabled)
	// get their own session.ended from the command that recorded the
	// cause; this finishes what a stopped process left. Every replica may
	// run it: ending an ended session changes nothing (harmless).
	a.Supervisor.Go(a.bg, componentSessionEnds, func(ctx context.Context) error {
		finish := func() {
			for _, e := range a.Principals.Unended(time.Now().Add(-sessionEndGrace)) {
				if ctx.Err() != nil {
					return
				}
				meta := events.Metadata{Actor: events.ActorSystem, Time: time.Now().UTC()}
				if _, err := a.Commands.FinishSessionEnd(ctx, e.UserID, e.SessionID, e.Reason, meta); err != nil {
					a.log.Warn("session end not finished; retrying", "user_id", e.UserID, "session_id", e.SessionID, "err", err)
				}
			}
		}
		finish()
		return every(ctx, sessionEndGrace, finish)
	})
	a.Supervisor.Go(a.bg, componentReminders, a.leased(leaseReminders, func(ctx context.Context) error {
		remind := func() {
			if err := notifier.Remind(ctx, a.Commands, a.Principals, time.Now()); err != nil && ctx.Err() == nil {
				a.log.Warn("expiry reminders not all raised; retrying", "err", err)
			}
		}
		remind()
		return every(ctx, a.cfg.ReminderEvery, remind)
	}))
	if a.cfg.SMTP != "" {
		relay, _ := mailer.ParseRelay(a.cfg.SMTP) // validated
		claims, err := a.mailClaims(ctx)
		if err != nil {
			return err
		}
		// One replica sends (leased); each mail is claimed too, so a
		// hand-over (or a read model behind) never sends one twice.
		// No Domain: there is no base URL setting yet, so Message-IDs are
		// on the sender's domain; --public-url (issue 20) sets its host.
		m := &mailer.Mailer{Relay: relay, Outbox: a.Queries, Sent: a.Commands, Logger: a.log, Claims: claims, Holder: a.ReplicaID, Count: a.Metrics}
		a.Supervisor.Go(a.bg, componentMailer, a.leased(leaseMailer, func(ctx context.Context) error { return m.Run(ctx, a.cfg.MailEvery) }))
	}
	a.Supervisor.Go(a.bg, componentIndexGuard, a.guardIndex)
	a.Supervisor.Go(a.bg, componentLagSampler, func(ctx context.Context) error {
		return every(ctx, 5*time.Second, func() {
			checkCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			a.readiness.check(checkCtx)
			a.sampleParked(checkCtx)
		})
	})
	return nil
}

// sampleParked sets the gauge of events parked per projector (every
// projector, so a 0 is seen too). The parked collection is shared, so every
// replica reports the same numbers.
func (a *App) sampleParked(ctx context.Context) {
	counts, err := projector.CountParked(ctx, a.Platform.DB)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("parked events not counted", "err", err)
		}
		return
	}
	for _, p := range a.projectors {
		a.Metrics.ProjectorParked(p.Name, counts[p.Name])
	}
}

// guardIndex probes the log's head every indexProbeEvery and makes the
// credential index fail closed while it is staler than allowed (the time
// since the newest probe whose head it had applied), or its follower is
// down: it would trust credentials revoked on another replica. Runs until
// ctx ends.
func (a *App) guardIndex(ctx context.Context) error {
	probes := newHeadProbes(time.Now())
	check := func() {
		probeCtx, cancel := context.WithTimeout(ctx, a.cfg.TokenIndexMaxStaleness)
		at := time.Now()
		head, _, err := eventlog.Head(probeCtx, a.Platform.ESDB)
		cancel()
		if err == nil {
			probes.probe(at, head)
		}
		pos, _ := a.Principals.Position()
		checked := time.Now()
		staleness := probes.staleness(checked, pos)
		st, _ := a.Supervisor.Of(componentPrincipals)
		stale := !st.Running || staleness > a.cfg.TokenIndexMaxStaleness
		if stale != a.Principals.Stale() {
			a.log.Warn("credential index freshness changed", "stale", stale, "staleness_ms", staleness.Milliseconds(), "follower_running", st.Running, "err", err)
		}
		a.indexStaleness.Store(int64(staleness))
		// The verdict holds only until the index would be too stale if it
		// applied nothing more: a replica paused (or starved) longer
		// answers requests before this check runs again, and must refuse
		// them then rather than trust credentials revoked meanwhile.
		a.Principals.SetFreshUntil(checked.Add(a.cfg.TokenIndexMaxStaleness - staleness))
		a.Principals.SetStale(stale)
	}
	return every(ctx, indexProbeEvery, check)
}

// indexProbeEvery: how often the credential index's guard reads the log's
// head.
const indexProbeEvery = 250 * time.Millisecond

// sessionEndGrace: how long the command that ended sessions has to append
// their session.ended before the repair job does.
const sessionEndGrace = 30 * time.Second

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

// serveMetrics serves /metrics on its own listener, if one is configured:
// the public port never shows it, and every replica on a host names its
// own address.
func (a *App) serveMetrics(context.Context) error {
	if metricsOff(a.cfg.MetricsListen) {
		return nil
	}
	var err error
	a.metricsListener, err = net.Listen("tcp", a.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics listen on %s: %w", a.cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	a.metricsHTTP = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	srv, ln := a.metricsHTTP, a.metricsListener
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}

// serveHTTP listens and serves the API.
func (a *App) serveHTTP(context.Context) error {
	var err error
	a.listener, err = net.Listen("tcp", a.cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("HTTP listen on %s: %w", a.cfg.HTTPListen, err)
	}
	a.http = &http.Server{
		Handler:           a.Handler,
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
