package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/platform"
)

// Replicas publish a fingerprint of the settings that must agree among
// them in KV bucket accountd_replicas, renewed every replicaRenew; an entry
// lives replicaTTL after its last renewal, so a stopped replica drops out.
const (
	replicaRegistry = "replicas"
	replicaTTL      = 10 * time.Second
	replicaRenew    = 2 * time.Second
)

// replicaSettings is what a replica publishes: a hash of each setting that
// must be the same on every replica (hashes, so nothing configured, such
// as an admin's name, is shown to whoever reads NATS).
type replicaSettings struct {
	Replica  string            `json:"replica"`
	Started  time.Time         `json:"started"`
	Settings map[string]string `json:"settings"`
}

func shortHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// settingsFingerprint hashes the settings that must agree: the secret key
// (by its id), the extra scopes, the token limits, the configured admins
// and the projectors' versions.
func (a *App) settingsFingerprint() map[string]string {
	var scopeList []string
	for name, desc := range a.cfg.Scopes {
		scopeList = append(scopeList, name+"="+desc)
	}
	slices.Sort(scopeList)
	var admins []string
	if parsed, err := commands.ParseConfiguredAdmins(a.cfg.Admins); err == nil {
		for _, c := range parsed {
			admins = append(admins, c.Key())
		}
	}
	slices.Sort(admins)
	var versions []string
	for _, p := range a.projectors {
		versions = append(versions, fmt.Sprintf("%s:%d", p.Name, max(p.Version, 1)))
	}
	slices.Sort(versions)
	return map[string]string{
		"secret_key":         a.Keys.KeyID(),
		"scopes":             shortHash(scopeList...),
		"token_limits":       shortHash(a.cfg.MaxTokenLifetime.String(), a.cfg.SessionTTL.String()),
		"admins":             shortHash(admins...),
		"projector_versions": shortHash(versions...),
	}
}

// settingsCheck is the latest comparison of this replica's settings with
// the others'.
type settingsCheck struct {
	mu      sync.Mutex
	checked bool
	differs string // "" when they agree
	err     error
}

func (c *settingsCheck) set(differs string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked, c.differs, c.err = true, differs, err
}

func (c *settingsCheck) get() (checked bool, differs string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked, c.differs, c.err
}

// compareSettings says how mine differs from the settings of the replica
// started last among the others (the newest configuration wins: a rolling
// deploy that changes a setting moves the traffic to the replicas that
// have it, so two configurations never serve side by side), "" when it
// does not, or when mine is the newest.
func compareSettings(mine replicaSettings, all []replicaSettings) string {
	var newest *replicaSettings
	for i := range all {
		o := &all[i]
		if o.Replica == mine.Replica {
			continue
		}
		if newest == nil || o.Started.After(newest.Started) || o.Started.Equal(newest.Started) && o.Replica > newest.Replica {
			newest = o
		}
	}
	if newest == nil || mine.Started.After(newest.Started) || mine.Started.Equal(newest.Started) && mine.Replica > newest.Replica {
		return ""
	}
	var differ []string
	for name, v := range mine.Settings {
		if newest.Settings[name] != v {
			differ = append(differ, name)
		}
	}
	for name := range newest.Settings {
		if _, ok := mine.Settings[name]; !ok {
			differ = append(differ, name)
		}
	}
	if len(differ) == 0 {
		return ""
	}
	slices.Sort(differ)
	differ = slices.Compact(differ)
	return fmt.Sprintf("settings differ from replica %s (started later): %s", newest.Replica, strings.Join(differ, ", "))
}

// settingsPublisher publishes this replica's settings fingerprint and
// compares it with the others'.
type settingsPublisher struct {
	a    *App
	reg  *coord.Registry
	mine replicaSettings
	raw  []byte
}

// round renews this replica's entry and compares it with the others'.
func (p *settingsPublisher) round(ctx context.Context) {
	a := p.a
	rctx, cancel := context.WithTimeout(ctx, replicaRenew)
	defer cancel()
	if err := p.reg.Put(rctx, a.cfg.ReplicaID, p.raw); err != nil {
		a.settings.set("", fmt.Errorf("publish settings: %w", err))
		return
	}
	values, err := p.reg.All(rctx)
	if err != nil {
		a.settings.set("", fmt.Errorf("read the other replicas' settings: %w", err))
		return
	}
	var all []replicaSettings
	for _, v := range values {
		var s replicaSettings
		if json.Unmarshal(v, &s) == nil && s.Replica != "" {
			all = append(all, s)
		}
	}
	differs := compareSettings(p.mine, all)
	if _, before, _ := a.settings.get(); before != differs && differs != "" {
		a.log.Warn("this replica's settings differ from another's: not ready", "why", differs)
	}
	a.settings.set(differs, nil)
}

// run renews and compares until ctx ends, then withdraws the entry.
func (p *settingsPublisher) run(ctx context.Context) error {
	defer func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = p.reg.Delete(stop, p.a.cfg.ReplicaID)
	}()
	return every(ctx, replicaRenew, func() { p.round(ctx) })
}

// settingsStatus is /readyz's check that this replica's settings agree
// with the other replicas'.
func (a *App) settingsStatus() ComponentStatus {
	c := ComponentStatus{Name: componentSettings}
	if st, ok := a.Supervisor.Of(componentSettings); ok {
		c.Running, c.Restarts, c.LastError = st.Running, st.Restarts, st.LastError
	}
	checked, differs, err := a.settings.get()
	switch {
	case err != nil:
		c.LastError = err.Error()
	case !checked:
		c.LastError = "not compared with the other replicas yet"
	case differs != "":
		c.LastError = differs
	}
	c.OK = c.Running && checked && err == nil && differs == ""
	return c
}

// startSettingsCheck publishes this replica's settings and compares them
// with the others' once before the service is ready, then in the
// background; /readyz reports the result.
func (a *App) startSettingsCheck(ctx context.Context) error {
	reg, err := a.Coord.Registry(ctx, replicaRegistry, replicaTTL)
	if err != nil {
		return err
	}
	mine := replicaSettings{Replica: a.cfg.ReplicaID, Started: a.started, Settings: a.settingsFingerprint()}
	raw, err := json.Marshal(mine)
	if err != nil {
		return err
	}
	p := &settingsPublisher{a: a, reg: reg, mine: mine, raw: raw}
	p.round(ctx)
	a.Supervisor.Go(a.bg, componentSettings, p.run)
	return nil
}

// Bootstrap creates what replicas share and need before they serve (the
// JetStream feed, the read models' collections and indexes, the replica
// registry bucket), idempotently, as every replica does at start, checks
// the secret key against the stored data keys, and stops: for a
// deployment's bootstrap Job. Consumers are created by the replicas.
func Bootstrap(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	p, err := platform.Start(ctx, cfg.Platform)
	if err != nil {
		return err
	}
	defer p.Close()
	a := &App{Platform: p, cfg: cfg, log: cfg.Logger, projectors: cfg.Projectors}
	if err := a.openKeys(ctx); err != nil {
		return err
	}
	if err := a.prepareFeedAndReadModels(ctx); err != nil {
		return err
	}
	_, err = coord.New(p.JetStream, coord.Options{Replicas: CoordReplicas(p.NATS)}).Registry(ctx, replicaRegistry, replicaTTL)
	return err
}
