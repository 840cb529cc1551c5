// Package devcluster runs accountd the way production does, on one
// machine: several replicas behind a round-robin proxy, on external servers
// that each run as their own process (PostgreSQL, three clustered NATS
// JetStream nodes, the event store), plus FerretDB on PostgreSQL in-process.
// Everything listens on loopback, on free ports, with generated
// credentials, and keeps its data in one directory. Tests use it to kill,
// stop, pause and restart any of those processes; cmd/devcluster runs it by
// hand.
package devcluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/internal/keyring"
)

// Options configure a cluster.
type Options struct {
	// Replicas is how many accountd processes serve behind the proxy
	// (default 1).
	Replicas int
	// Dir holds everything (data, logs, credentials); it must be empty or
	// absent. Empty: a new temporary directory, removed by Close unless Keep.
	Dir  string
	Keep bool
	// Build says where the binaries are built (see Build).
	Build BuildOptions
	// ReplicaArgs are extra accountd flags for every replica (e.g.
	// --admin NAME); ReplicaEnv extra environment variables (NAME=value).
	ReplicaArgs []string
	ReplicaEnv  []string
	// ProxyListen is the proxy's address (default 127.0.0.1:0, a free port).
	ProxyListen string
	// PostgresBin is the directory of initdb and postgres; empty: found on
	// PATH or in Debian's /usr/lib/postgresql/N/bin (ErrNoPostgres if not).
	PostgresBin string
	// Logger reports progress and processes that exit; nil discards.
	Logger *slog.Logger
}

// Cluster is a running cluster. Its methods are safe for concurrent use.
type Cluster struct {
	opts      Options
	dir       string
	binDir    string // the built binaries (see Build)
	removeDir bool
	log       *slog.Logger
	spawner   *spawner

	secretKey              string
	pgUser, pgPassword     string
	esUser, esPassword     string
	natsUser, natsPassword string
	routePassword          string
	caFile                 string

	pg       *Process
	nats     []*Process
	es       *Process
	replicas []*Process
	ferret   *ferret
	proxy    *proxy

	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start builds the binaries (quick when they are up to date), starts every
// server and the replicas, and returns once all of them serve. On error
// whatever was started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Replicas < 1 || opts.Replicas > 64 {
		return nil, fmt.Errorf("replicas: %d, want 1 to 64", opts.Replicas)
	}
	if opts.ProxyListen == "" {
		opts.ProxyListen = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pgBin, err := findPostgres(opts.PostgresBin)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, log: opts.Logger, closing: make(chan struct{}), spawner: newSpawner()}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	if err := c.makeDir(); err != nil {
		return nil, err
	}
	opts.Logger.Info("building accountd, accountctl, eventstored and nats-server")
	bin, err := Build(ctx, opts.Build)
	if err != nil {
		return nil, err
	}
	c.binDir = bin
	if err := c.makeSecrets(); err != nil {
		return nil, err
	}
	listenFlags, err := replicaListenFlags(filepath.Join(bin, "accountd"))
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3 + 2*natsNodes + opts.Replicas*len(listenFlags))
	if err != nil {
		return nil, err
	}
	take := func() int { p := ports[0]; ports = ports[1:]; return p }

	// PostgreSQL first: FerretDB needs it. Then NATS and the event store,
	// which start side by side (the NATS nodes elect a JetStream leader
	// only once a quorum runs).
	opts.Logger.Info("starting PostgreSQL", "bin", pgBin)
	if c.pg, err = c.postgres(ctx, pgBin, filepath.Join(c.dir, "postgres"), take()); err != nil {
		return nil, err
	}
	if err := c.pg.Start(ctx); err != nil {
		return nil, err
	}
	if err := c.createDatabase(ctx, "ferretdb"); err != nil {
		return nil, err
	}
	natsDir := filepath.Join(c.dir, "nats")
	if err := os.Mkdir(natsDir, 0o700); err != nil {
		return nil, err
	}
	clientPorts, routePorts := make([]int, natsNodes), make([]int, natsNodes)
	for i := range natsNodes {
		clientPorts[i], routePorts[i] = take(), take()
	}
	for i := range natsNodes {
		n, err := c.natsNode(bin, natsDir, i, clientPorts, routePorts)
		if err != nil {
			return nil, err
		}
		c.nats = append(c.nats, n)
	}
	if c.es, err = c.eventStore(bin, take()); err != nil {
		return nil, err
	}
	opts.Logger.Info("starting NATS (3 nodes) and the event store")
	var wg sync.WaitGroup
	starting := append([]*Process{c.es}, c.nats...)
	errs := make([]error, len(starting))
	for i, p := range starting {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = p.Start(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	opts.Logger.Info("starting FerretDB on PostgreSQL")
	if c.ferret, err = c.startFerret(ctx, take()); err != nil {
		return nil, err
	}
	for i := range opts.Replicas {
		ports := make([]int, len(listenFlags))
		for j := range ports {
			ports[j] = take()
		}
		c.replicas = append(c.replicas, c.replica(bin, i, listenFlags, ports))
	}
	opts.Logger.Info("starting the replicas", "replicas", opts.Replicas)
	errs = make([]error, len(c.replicas))
	for i, r := range c.replicas {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.Start(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.proxy, err = startProxy(opts.ProxyListen, c.replicas, c.log); err != nil {
		return nil, err
	}
	if err := keyring.WritePrivate(filepath.Join(c.dir, "cluster.env"), []byte(c.envFile())); err != nil {
		return nil, err
	}
	return c, nil
}

// makeDir creates the cluster's directory: private (0700), except that it
// lets others pass through (0711) when PostgreSQL must run as another user;
// every file in it is private anyway.
func (c *Cluster) makeDir() error {
	mode := os.FileMode(0o700)
	if cred, _, _ := postgresUser(); cred != nil {
		mode = 0o711
	}
	if c.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "devcluster-")
		if err != nil {
			return err
		}
		c.dir, c.removeDir = dir, !c.opts.Keep
	} else {
		dir, err := filepath.Abs(c.opts.Dir)
		if err != nil {
			return err
		}
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return fmt.Errorf("%s is not empty: a cluster starts from nothing", dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		c.dir = dir
	}
	if err := os.Chmod(c.dir, mode); err != nil {
		return err
	}
	if cred, runAs, _ := postgresUser(); cred != nil {
		if err := reachableBy(filepath.Join(c.dir, "postgres"), cred); err != nil {
			return fmt.Errorf("PostgreSQL runs as %s here (devcluster runs as root) and cannot reach %s: %w; choose a directory it can reach, e.g. under /tmp", runAs, c.dir, err)
		}
	}
	return os.Mkdir(filepath.Join(c.dir, "logs"), 0o700)
}

func (c *Cluster) logPath(name string) string { return filepath.Join(c.dir, "logs", name+".log") }

// makeSecrets generates every password and the replicas' shared secret key.
func (c *Cluster) makeSecrets() error {
	for _, s := range []*string{&c.pgPassword, &c.esPassword, &c.natsPassword, &c.routePassword} {
		var err error
		if *s, err = keyring.Random(24); err != nil {
			return err
		}
	}
	c.pgUser, c.esUser, c.natsUser = "accountd", "accountd", "accountd"
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	c.secretKey = base64.StdEncoding.EncodeToString(key)
	return nil
}

// eventStore returns eventstored (not started), with one user and TLS
// from a certificate authority of the cluster's own.
func (c *Cluster) eventStore(binDir string, port int) (*Process, error) {
	files, err := keyring.EnsureTLS(filepath.Join(c.dir, "tls"), nil)
	if err != nil {
		return nil, err
	}
	c.caFile = files.CA
	users := filepath.Join(c.dir, "eventstore-users")
	if err := keyring.WritePrivate(users, []byte(c.esUser+":"+c.esPassword+"\n")); err != nil {
		return nil, err
	}
	p := &Process{
		name: "eventstored",
		path: filepath.Join(binDir, "eventstored"),
		args: []string{"--listen", "127.0.0.1:" + strconv.Itoa(port), "--data", filepath.Join(c.dir, "eventstore"),
			"--users", users, "--tls-cert", files.Cert, "--tls-key", files.Key},
		env:      baseEnv(),
		dir:      c.dir,
		addr:     "127.0.0.1:" + strconv.Itoa(port),
		stopSig:  syscall.SIGTERM,
		stopWait: 10 * time.Second,
		logFile:  c.logPath("eventstored"),
		spawner:  c.spawner,
		onExit:   c.exited,
	}
	// Ready: a client finds it through gossip and signs in.
	p.ready = func(context.Context) error {
		cfg, err := esdb.ParseConnectionString(c.EventStoreURL())
		if err != nil {
			return err
		}
		cfg.Logger, cfg.MaxDiscoverAttempts = esdb.NoopLogging(), 1
		client, err := esdb.NewClient(cfg)
		if err != nil {
			return err
		}
		defer client.Close()
		_, err = client.GetServerVersion()
		return err
	}
	return p, nil
}

// replicaListenFlags are the listen flags of the accountd binary: each
// replica gets a free loopback port of its own for each, kept across its
// restarts (two replicas on one default port would collide). --http comes
// first; the others are used when the binary has them (its --help lists
// them), so a listener accountd gains is one more name here.
func replicaListenFlags(accountd string) ([]string, error) {
	flags := []string{"--http"}
	out, err := exec.Command(accountd, "--help").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --help: %w\n%s", accountd, err, out)
	}
	for _, flag := range []string{"--metrics-listen"} {
		if regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(strings.TrimPrefix(flag, "--")) + `( |$)`).Match(out) {
			flags = append(flags, flag)
		}
	}
	return flags, nil
}

// replica returns accountd replica i (not started). The servers' URLs and
// the secret key go in its environment, not on its command line, where
// anyone on the machine could read them.
func (c *Cluster) replica(binDir string, i int, listenFlags []string, ports []int) *Process {
	name := "replica-" + strconv.Itoa(i)
	args := []string{"--data", filepath.Join(c.dir, "replicas", strconv.Itoa(i))}
	for j, flag := range listenFlags {
		args = append(args, flag, "127.0.0.1:"+strconv.Itoa(ports[j]))
	}
	args = append(args, c.opts.ReplicaArgs...)
	env := append(baseEnv(),
		"EVENTSTORE_URL="+c.EventStoreURL(),
		"NATS_URL="+c.NATSURL(),
		"MONGO_URI="+c.MongoURI(),
		"ACCOUNTD_SECRET_KEY="+c.secretKey,
		"ACCOUNTD_TRUSTED_PROXIES=127.0.0.1/32") // the proxy in front sets X-Forwarded-For
	env = append(env, c.opts.ReplicaEnv...)
	p := &Process{
		name:     name,
		path:     filepath.Join(binDir, "accountd"),
		args:     args,
		env:      env,
		dir:      c.dir,
		addr:     "127.0.0.1:" + strconv.Itoa(ports[0]),
		stopSig:  syscall.SIGTERM,
		stopWait: 15 * time.Second,
		// A balancer's health check or endpoint removal takes about this.
		drainWait: 300 * time.Millisecond,
		logFile:   c.logPath(name),
		spawner:   c.spawner,
		onExit:    c.exited,
	}
	client := &http.Client{Timeout: 3 * time.Second}
	p.ready = func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/readyz", nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", res.Status)
		}
		return nil
	}
	return p
}

// baseEnv is the environment every child gets: the few variables programs
// expect, not the caller's whole environment (whose EVENTSTORE_URL or
// ACCOUNTD_ADMINS would leak into the replicas).
func baseEnv() []string {
	var env []string
	for _, name := range []string{"PATH", "HOME", "USER", "TMPDIR", "TZ", "LANG", "LC_ALL", "GOTRACEBACK", "GORACE", "GOMAXPROCS", "GODEBUG"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// exited logs processes that end while the cluster is not closing.
func (c *Cluster) exited(p *Process, state *os.ProcessState) {
	select {
	case <-c.closing:
	default:
		c.log.Warn("process exited", "process", p.name, "state", state.String(), "log", p.logFile)
	}
}

// freePorts reserves n distinct free loopback ports. They are free when
// this returns; a process started soon after can have them.
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Dir is the directory that holds the cluster's data, logs (logs/) and
// credentials (cluster.env, 0600).
func (c *Cluster) Dir() string { return c.dir }

// Binary is the path of a binary the cluster built: "accountd",
// "accountctl", "eventstored" or "nats-server".
func (c *Cluster) Binary(name string) string { return filepath.Join(c.binDir, name) }

// ProxyURL is the round-robin proxy in front of the replicas.
func (c *Cluster) ProxyURL() string { return c.proxy.url }

// Replicas is how many replicas the cluster has.
func (c *Cluster) Replicas() int { return len(c.replicas) }

// Replica is replica i (from 0).
func (c *Cluster) Replica(i int) *Process { return c.replicas[i] }

// ReplicaURL is replica i's own HTTP address, past the proxy.
func (c *Cluster) ReplicaURL(i int) string { return "http://" + c.replicas[i].addr }

// NATS is NATS node i (0 to 2).
func (c *Cluster) NATS(i int) *Process { return c.nats[i] }

// EventStore is the event store process.
func (c *Cluster) EventStore() *Process { return c.es }

// Postgres is the PostgreSQL server process.
func (c *Cluster) Postgres() *Process { return c.pg }

// Processes are all child processes: PostgreSQL, the NATS nodes, the event
// store and the replicas.
func (c *Cluster) Processes() []*Process {
	out := append([]*Process{c.pg}, c.nats...)
	return append(append(out, c.es), c.replicas...)
}

// NATSURL lists every NATS node with the login (nats://user:pass@host:port,...).
func (c *Cluster) NATSURL() string { return c.natsURL() }

// EventStoreURL finds the event store through gossip, as for an
// EventStoreDB cluster, with the login and the cluster's CA.
func (c *Cluster) EventStoreURL() string {
	u := url.URL{Scheme: "esdb+discover", User: url.UserPassword(c.esUser, c.esPassword), Host: c.es.addr,
		RawQuery: "tls=true&tlsCAFile=" + url.QueryEscape(c.caFile)}
	return u.String()
}

// MongoURI reaches FerretDB with the PostgreSQL login, which FerretDB v1
// passes through to PostgreSQL (PLAIN: its only mechanism there).
func (c *Cluster) MongoURI() string { return c.mongoURI(c.ferret.addr) }

// mongoURI is MongoURI for FerretDB at addr.
func (c *Cluster) mongoURI(addr string) string {
	u := url.URL{Scheme: "mongodb", User: url.UserPassword(c.pgUser, c.pgPassword), Host: addr, Path: "/",
		RawQuery: "authMechanism=PLAIN"}
	return u.String()
}

// PostgresURL is the superuser's connection string to FerretDB's database.
func (c *Cluster) PostgresURL() string { return c.postgresURL("ferretdb") }

// SecretKey is the replicas' ACCOUNTD_SECRET_KEY.
func (c *Cluster) SecretKey() string { return c.secretKey }

// Env is what a tool needs to reach the cluster's servers, as accountd's
// environment variables (NAME=value).
func (c *Cluster) Env() []string {
	return []string{
		"EVENTSTORE_URL=" + c.EventStoreURL(),
		"NATS_URL=" + c.NATSURL(),
		"MONGO_URI=" + c.MongoURI(),
		"ACCOUNTD_SECRET_KEY=" + c.secretKey,
	}
}

func (c *Cluster) envFile() string {
	var b strings.Builder
	b.WriteString("# accountd's servers in this cluster; source it to run accountctl or another replica\n")
	for _, kv := range c.Env() {
		name, value, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", name, value)
	}
	fmt.Fprintf(&b, "export DEVCLUSTER_POSTGRES_URL='%s'\n", c.PostgresURL())
	fmt.Fprintf(&b, "export DEVCLUSTER_PROXY_URL='%s'\n", c.ProxyURL())
	return b.String()
}

// Close stops everything, the replicas first and PostgreSQL last, and
// removes the temporary directory (unless Keep, or Dir was given).
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		ctx := context.Background()
		var errs []error
		if c.proxy != nil {
			errs = append(errs, c.proxy.close())
		}
		stopAll := func(ps []*Process) {
			var wg sync.WaitGroup
			perr := make([]error, len(ps))
			for i, p := range ps {
				if p == nil {
					continue
				}
				wg.Add(1)
				go func() { defer wg.Done(); perr[i] = p.Stop(ctx) }()
			}
			wg.Wait()
			errs = append(errs, perr...)
		}
		stopAll(c.replicas)
		stopAll([]*Process{c.es})
		if c.ferret != nil {
			c.ferret.stop()
		}
		stopAll(c.nats)
		stopAll([]*Process{c.pg})
		if c.spawner != nil {
			c.spawner.close()
		}
		if c.removeDir {
			errs = append(errs, os.RemoveAll(c.dir))
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
