package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/relay"
)

// readiness checks the servers and how far each component is behind the
// head of the log.
type readiness struct {
	app *App
}

// Report is the body of /readyz.
type Report struct {
	Ready bool `json:"ready"`
	// Replica is this replica's id.
	Replica    string            `json:"replica"`
	Head       uint64            `json:"head_position"`
	Servers    []ServerStatus    `json:"servers"`
	Components []ComponentStatus `json:"components"`
	// Rebuilds in the background (the old read model serves meanwhile).
	Rebuilds []RebuildStatus `json:"rebuilds,omitempty"`
}

// ServerStatus says whether a server answered.
type ServerStatus struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// ComponentStatus is one background component's lag and health.
type ComponentStatus struct {
	Name       string  `json:"name"`
	OK         bool    `json:"ok"`
	Running    bool    `json:"running"`
	Position   uint64  `json:"position"`
	LagEvents  uint64  `json:"lag_events"`
	LagSeconds float64 `json:"lag_seconds"`
	Restarts   int     `json:"restarts"`
	LastError  string  `json:"last_error,omitempty"`
	// Active: this replica applies the read model now (its consumer is
	// pinned here); the other replicas' executors stand by.
	Active bool `json:"active,omitempty"`
}

// countLimit bounds the read that counts how far behind a component is.
const countLimit = 100_000

func (r *readiness) check(ctx context.Context) Report {
	a := r.app
	rep := Report{Ready: true, Replica: a.cfg.ReplicaID}
	server := func(name string, err error) {
		s := ServerStatus{Name: name, OK: err == nil}
		if err != nil {
			s.Error, rep.Ready = err.Error(), false
		}
		rep.Servers = append(rep.Servers, s)
	}
	head, headAt, err := eventlog.Head(ctx, a.Platform.ESDB)
	server("eventstore", err)
	var natsErr error
	if a.Platform.NATS.Status() != nats.CONNECTED {
		natsErr = errors.New("not connected: " + a.Platform.NATS.Status().String())
	} else if _, err := a.Platform.JetStream.AccountInfo(ctx); err != nil {
		natsErr = err
	}
	server("nats", natsErr)
	server("mongodb", a.Platform.Mongo.Ping(ctx, nil))
	rep.Head = head

	// behind is how far a reader at position is from the head.
	behind := func(position uint64, at time.Time) (uint64, time.Duration, error) {
		if position >= head {
			return 0, 0, nil
		}
		n, err := eventlog.CountAfter(ctx, a.Platform.ESDB, position, countLimit)
		lag := time.Duration(0)
		if !at.IsZero() && headAt.After(at) {
			lag = headAt.Sub(at) // unknown (0) when a checkpoint gave the position
		}
		return n, lag, err
	}
	component := func(name string, position uint64, events uint64, lag time.Duration, err error) ComponentStatus {
		c := ComponentStatus{Name: name, Position: position, LagEvents: events, LagSeconds: lag.Seconds()}
		if st, ok := a.Supervisor.Of(name); ok {
			c.Running, c.Restarts, c.LastError = st.Running, st.Restarts, st.LastError
		}
		if err != nil {
			c.LastError = err.Error()
		}
		c.OK = c.Running && err == nil && events <= a.cfg.ReadyMaxLagEvents && lag <= a.cfg.ReadyMaxLag
		if !c.OK {
			rep.Ready = false
		}
		rep.Components = append(rep.Components, c)
		return c
	}

	// The relay is judged by the stream's tail, whichever replica runs it
	// (this one may stand by): every replica reports the same.
	relayPos, relayAt, err := relay.Tail(ctx, a.Platform.JetStream, FeedStream)
	relayEvents, relayLag := uint64(0), time.Duration(0)
	if err == nil {
		relayEvents, relayLag, err = behind(relayPos, relayAt)
	}
	component(componentRelay, relayPos, relayEvents, relayLag, err)
	relayHolder, _ := a.Coord.Holder(ctx, relayLease)
	rep.Components[len(rep.Components)-1].Active = relayHolder == a.cfg.ReplicaID
	a.Metrics.RelayLag(relayEvents, relayLag)

	indexPos, indexAt := a.Principals.Position()
	indexEvents, indexLag, err := behind(indexPos, indexAt)
	index := component(componentPrincipals, indexPos, indexEvents, indexLag, err)
	// The guard's measure decides for the index: credentials fail closed
	// past it, so the replica must not be given traffic either.
	if staleness := time.Duration(a.indexStaleness.Load()); a.Principals.Stale() && index.OK {
		last := &rep.Components[len(rep.Components)-1]
		last.OK, rep.Ready = false, false
		last.LastError = fmt.Sprintf("credential index stale: %s behind the log's head (allowed %s); credential checks answer 503", staleness.Round(time.Millisecond), a.cfg.TokenIndexMaxStaleness)
	}
	a.Metrics.PrincipalsLag(indexEvents, indexLag)
	a.Metrics.LiveSessions(a.Principals.Sessions())

	for _, proj := range a.projectors {
		name := proj.Name
		x := a.executor(name)
		if x == nil {
			continue
		}
		pending, appliedAt, err := x.Pending(ctx)
		events, lag := relayEvents+pending, relayLag
		if pending > 0 && !appliedAt.IsZero() && headAt.After(appliedAt) {
			lag = headAt.Sub(appliedAt)
		}
		component(projectorComponent(name), a.Progress.Applied(name), events, lag, err)
		rep.Components[len(rep.Components)-1].Active = x.Active()
		a.Metrics.ProjectorLag(name, events, lag)
	}
	// The settings that must agree among replicas do.
	settings := a.settingsStatus()
	rep.Ready = rep.Ready && settings.OK
	rep.Components = append(rep.Components, settings)
	a.mu.Lock()
	for name, p := range a.rebuilds {
		rep.Rebuilds = append(rep.Rebuilds, RebuildStatus{Projector: name, Done: p[0], Total: p[1]})
	}
	a.mu.Unlock()
	return rep
}

// RebuildStatus is a background rebuild's progress, in messages.
type RebuildStatus struct {
	Projector string `json:"projector"`
	Done      uint64 `json:"done"`
	Total     uint64 `json:"total"`
}
