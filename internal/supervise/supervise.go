// Package supervise runs background components and restarts each one that
// fails (returns an error, or returns at all while it should run), with
// capped exponential backoff, logging every restart.
package supervise

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Metrics counts restarts; nil counts nothing.
type Metrics interface {
	Restarted(component string)
}

// Config of a supervisor.
type Config struct {
	Logger  *slog.Logger
	Metrics Metrics
	// MinBackoff is the first pause before a restart; it doubles on each
	// restart up to MaxBackoff, and starts again after a run that lasted
	// longer than MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
}

// Supervisor owns a set of running components.
type Supervisor struct {
	cfg Config
	wg  sync.WaitGroup

	mu         sync.Mutex
	components map[string]*Status
	order      []string
}

// Status is what the supervisor knows of one component.
type Status struct {
	Name      string    `json:"name"`
	Running   bool      `json:"running"`
	Restarts  int       `json:"restarts"`
	LastError string    `json:"last_error,omitempty"`
	ErrorAt   time.Time `json:"last_error_at,omitzero"`
}

// New returns a supervisor with nothing running.
func New(cfg Config) *Supervisor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	return &Supervisor{cfg: cfg, components: map[string]*Status{}}
}

// Go runs component name until ctx ends, restarting it whenever it stops.
func (s *Supervisor) Go(ctx context.Context, name string, run func(context.Context) error) {
	s.mu.Lock()
	st := &Status{Name: name}
	s.components[name] = st
	s.order = append(s.order, name)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backoff := s.cfg.MinBackoff
		for {
			s.set(name, func(st *Status) { st.Running = true })
			started := time.Now()
			err := run(ctx)
			if ctx.Err() != nil {
				s.set(name, func(st *Status) { st.Running = false })
				return
			}
			if time.Since(started) > s.cfg.MaxBackoff {
				backoff = s.cfg.MinBackoff
			}
			msg := "stopped without an error"
			if err != nil {
				msg = err.Error()
			}
			s.set(name, func(st *Status) {
				st.Running, st.Restarts, st.LastError, st.ErrorAt = false, st.Restarts+1, msg, time.Now().UTC()
			})
			s.cfg.Logger.Warn("component failed; restarting", "component", name, "err", msg, "in", backoff)
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.Restarted(name)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				s.set(name, func(st *Status) { st.Running = false })
				return
			case <-t.C:
			}
			backoff = min(backoff*2, s.cfg.MaxBackoff)
		}
	}()
}

func (s *Supervisor) set(name string, change func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(s.components[name])
}

// Status returns every component's status, in the order they were started.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.order))
	for i, n := range s.order {
		out[i] = *s.components[n]
	}
	return out
}

// Of returns one component's status.
func (s *Supervisor) Of(name string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.components[name]
	if !ok {
		return Status{}, false
	}
	return *st, true
}

// Wait blocks until every component has stopped (after ctx ended).
func (s *Supervisor) Wait() { s.wg.Wait() }
