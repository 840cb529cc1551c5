// Package metrics holds the service's Prometheus metrics in one registry
// per service (no global state) and implements the small metrics ports of
// commands, projectors, the supervisor and the HTTP transport.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics of one running service.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests                              *prometheus.CounterVec
	httpDuration                              *prometheus.HistogramVec
	commands                                  *prometheus.CounterVec
	commandDuration                           *prometheus.HistogramVec
	conflicts                                 *prometheus.CounterVec
	throttled                                 *prometheus.CounterVec
	parked                                    *prometheus.CounterVec
	parkedNow                                 *prometheus.GaugeVec
	restarts                                  *prometheus.CounterVec
	relayLagEvents, relayLagSeconds           prometheus.Gauge
	projectorLagEvents, projectorLagSeconds   *prometheus.GaugeVec
	principalsLagEvents, principalsLagSeconds prometheus.Gauge
	liveSessions                              prometheus.Gauge
	emails                                    *prometheus.CounterVec
}

// Names of the metrics, as documented in the README.
const (
	HTTPRequests         = "accountd_http_requests_total"
	HTTPDuration         = "accountd_http_request_duration_seconds"
	Commands             = "accountd_commands_total"
	CommandDuration      = "accountd_command_duration_seconds"
	Conflicts            = "accountd_wrong_expected_version_retries_total"
	SignInThrottled      = "accountd_signin_throttled_total"
	ParkedEvents         = "accountd_parked_events_total"
	ProjectorParked      = "accountd_projector_parked_events"
	Restarts             = "accountd_component_restarts_total"
	RelayLagEvents       = "accountd_relay_lag_events"
	RelayLagSeconds      = "accountd_relay_lag_seconds"
	ProjectorLagEvents   = "accountd_projector_lag_events"
	ProjectorLagSeconds  = "accountd_projector_lag_seconds"
	PrincipalsLagEvents  = "accountd_principal_index_lag_events"
	PrincipalsLagSeconds = "accountd_principal_index_lag_seconds"
	Sessions             = "accountd_sessions"
	Emails               = "accountd_emails_total"
)

// New registers every metric, with the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: HTTPRequests,
			Help: "HTTP requests by route template, method and status."}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: HTTPDuration,
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route", "method"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Commands,
			Help: "Commands by name and outcome (ok, invalid, conflict, not_found, denied, throttled, error)."}, []string{"command", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: CommandDuration,
			Help:    "Command latency by name, whatever the outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"command"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Conflicts,
			Help: "Appends that lost a race for their stream and were decided again, by stream category."}, []string{"category"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: SignInThrottled,
			Help: "Sign-in attempts refused by throttling, by scope."}, []string{"scope"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ParkedEvents,
			Help: "Events a projector could not use and parked, by projector."}, []string{"projector"}),
		parkedNow: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ProjectorParked,
			Help: "Events parked for a projector now (until retried or dropped with accountctl parked), by projector."}, []string{"projector"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Restarts,
			Help: "Restarts of background components by their supervisor."}, []string{"component"}),
		relayLagEvents:  prometheus.NewGauge(prometheus.GaugeOpts{Name: RelayLagEvents, Help: "Events in the log the relay has not yet forwarded to JetStream."}),
		relayLagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: RelayLagSeconds, Help: "Age of the newest event compared with the last one the relay forwarded."}),
		projectorLagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ProjectorLagEvents,
			Help: "Events not yet applied to a read model (not yet forwarded, or waiting in its consumer)."}, []string{"projector"}),
		projectorLagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ProjectorLagSeconds,
			Help: "Age of the newest event compared with the last one a read model applied, while it is behind."}, []string{"projector"}),
		principalsLagEvents:  prometheus.NewGauge(prometheus.GaugeOpts{Name: PrincipalsLagEvents, Help: "Events in the log the in-memory credential index has not yet read."}),
		principalsLagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: PrincipalsLagSeconds, Help: "Age of the newest event compared with the last one the credential index read."}),
		liveSessions:         prometheus.NewGauge(prometheus.GaugeOpts{Name: Sessions, Help: "Live sign-in sessions."}),
		emails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Emails,
			Help: "Attempts to send outbox e-mails, by notification kind and outcome (sent, failed, invalid)."}, []string{"kind", "outcome"}),
	}
	m.registry.MustRegister(m.httpRequests, m.httpDuration, m.commands, m.commandDuration, m.conflicts, m.throttled, m.parked, m.parkedNow,
		m.restarts, m.relayLagEvents, m.relayLagSeconds, m.projectorLagEvents, m.projectorLagSeconds,
		m.principalsLagEvents, m.principalsLagSeconds, m.liveSessions, m.emails,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request implements the HTTP transport's port.
func (m *Metrics) Request(route, method string, status int, elapsed time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// Command, Conflict and Throttled implement commands.Metrics.
func (m *Metrics) Command(name, outcome string, took time.Duration) {
	m.commands.WithLabelValues(name, outcome).Inc()
	m.commandDuration.WithLabelValues(name).Observe(took.Seconds())
}
func (m *Metrics) Conflict(category string) { m.conflicts.WithLabelValues(category).Inc() }
func (m *Metrics) Throttled(scope string)   { m.throttled.WithLabelValues(scope).Inc() }

// Parked implements projector.Metrics.
func (m *Metrics) Parked(projector string) { m.parked.WithLabelValues(projector).Inc() }

// ProjectorParked records how many events are parked for a projector now.
func (m *Metrics) ProjectorParked(projector string, n int) {
	m.parkedNow.WithLabelValues(projector).Set(float64(n))
}

// Restarted implements supervise.Metrics.
func (m *Metrics) Restarted(component string) { m.restarts.WithLabelValues(component).Inc() }

// RelayLag records how far the relay is behind the log.
func (m *Metrics) RelayLag(events uint64, behind time.Duration) {
	m.relayLagEvents.Set(float64(events))
	m.relayLagSeconds.Set(behind.Seconds())
}

// ProjectorLag records how far a read model is behind the log.
func (m *Metrics) ProjectorLag(projector string, events uint64, behind time.Duration) {
	m.projectorLagEvents.WithLabelValues(projector).Set(float64(events))
	m.projectorLagSeconds.WithLabelValues(projector).Set(behind.Seconds())
}

// PrincipalsLag records how far the credential index is behind the log.
func (m *Metrics) PrincipalsLag(events uint64, behind time.Duration) {
	m.principalsLagEvents.Set(float64(events))
	m.principalsLagSeconds.Set(behind.Seconds())
}

// LiveSessions records the number of live sessions.
func (m *Metrics) LiveSessions(n int) { m.liveSessions.Set(float64(n)) }

// Email implements the mailer's counter.
func (m *Metrics) Email(kind, outcome string) { m.emails.WithLabelValues(kind, outcome).Inc() }
