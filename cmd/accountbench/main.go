// Command accountbench measures the account service end to end on its
// embedded defaults (event store, NATS JetStream and FerretDB/SQLite in this
// process, data in a temporary directory) against its targets. In one run it
// measures PATCH /v1/me over real HTTP, each client signed in as its own
// user; the raw append rate of the event store through the service's own
// official EventStoreDB client, which PATCH is compared with; and projection
// lag at a steady command rate, from a PATCH being acknowledged until an
// anonymous GET /v1/profiles/{username} shows the change.
//
//	go run ./cmd/accountbench
//	go run ./cmd/accountbench --run=patch --cpuprofile=cpu.out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Phases, in the order they run.
const (
	phaseAppend = "append" // raw event store appends through the official client
	phasePatch  = "patch"  // PATCH /v1/me, closed loop
	phaseLag    = "lag"    // projection lag at a paced rate
)

var allPhases = []string{phaseAppend, phasePatch, phaseLag}

type config struct {
	clients      int           // concurrent PATCH clients (and users)
	writers      int           // concurrent raw appenders
	duration     time.Duration // measured window of the throughput phases
	warmup       time.Duration // unmeasured lead-in of every phase
	rate         float64       // commands/s of the lag phase
	lagDuration  time.Duration // measured window of the lag phase
	lagUsers     int           // users the lag phase's commands are spread over
	poll         time.Duration // interval between profile polls
	pollTimeout  time.Duration // a change not seen by then counts as lost
	cheapHashing bool
	dataDir      string
	phases       []string
	cpuprofile   string
	settleLimit  time.Duration // longest wait for the previous phase's backlog
}

func (c config) runs(phase string) bool { return slices.Contains(c.phases, phase) }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "accountbench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "accountbench: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("accountbench", flag.ContinueOnError)
	fs.IntVar(&cfg.clients, "clients", 32, "concurrent PATCH clients, each signed in as its own user")
	fs.IntVar(&cfg.writers, "writers", 0, "concurrent raw appenders, each to its own stream (default: --clients)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time of the PATCH and raw append phases")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each phase")
	fs.Float64Var(&cfg.rate, "rate", 100, "commands/s of the projection lag phase")
	fs.DurationVar(&cfg.lagDuration, "lag-duration", 10*time.Second, "measured time of the projection lag phase")
	fs.IntVar(&cfg.lagUsers, "lag-users", 10, "users the lag phase's commands are spread over (at most --clients)")
	fs.DurationVar(&cfg.poll, "poll", time.Millisecond, "interval between GET /v1/profiles polls of one sample (0: no polling, read model lag only)")
	fs.DurationVar(&cfg.pollTimeout, "poll-timeout", 5*time.Second, "a change not visible after this long counts as not seen")
	fs.BoolVar(&cfg.cheapHashing, "cheap-hashing", false, "register and sign in with cheap argon2id parameters (PATCH never hashes)")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "directory for the databases (default: a temporary directory, removed afterwards)")
	phases := fs.String("run", strings.Join(allPhases, ","), "comma-separated phases to run: "+strings.Join(allPhases, ", "))
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured phases (server and client) to this file")
	fs.DurationVar(&cfg.settleLimit, "settle", 30*time.Second, "longest wait between phases for relay and projectors to catch up")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: accountbench [flags]\n\nBenchmarks the account service (PATCH /v1/me, raw event store appends, projection lag) on embedded servers.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.writers == 0 {
		cfg.writers = cfg.clients
	}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			return cfg, fmt.Errorf("--run: unknown phase %q (have %s)", p, strings.Join(allPhases, ", "))
		}
		if !slices.Contains(cfg.phases, p) {
			cfg.phases = append(cfg.phases, p)
		}
	}
	switch {
	case cfg.clients < 1 || cfg.writers < 1:
		return cfg, errors.New("--clients and --writers must be positive")
	case cfg.duration <= 0 || cfg.lagDuration <= 0 || cfg.warmup < 0:
		return cfg, errors.New("--duration and --lag-duration must be positive, --warmup not negative")
	case cfg.rate <= 0 || cfg.lagUsers < 1 || cfg.poll < 0 || cfg.pollTimeout <= 0:
		return cfg, errors.New("--rate, --lag-users and --poll-timeout must be positive, --poll not negative")
	case cfg.lagUsers > cfg.clients:
		return cfg, fmt.Errorf("--lag-users (%d) cannot exceed --clients (%d): the lag phase reuses the PATCH users", cfg.lagUsers, cfg.clients)
	}
	return cfg, nil
}

// results collects everything a run measured.
type results struct {
	cfg       config
	dataDir   string
	fsyncRate float64
	setup     time.Duration
	appends   *loadResult
	patches   *loadResult
	lag       *lagResult
	drains    []drain // catching up after each phase
	logged    []logLine
}

// bench starts the service, runs the selected phases and writes the report
// to out.
func bench(ctx context.Context, cfg config, out io.Writer) (*results, error) {
	root := cfg.dataDir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "accountbench-*"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(root)
	} else if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	res := &results{cfg: cfg, dataDir: root}
	var err error
	logf("probing fsync rate in %s", root)
	if res.fsyncRate, err = fsyncRate(root, 500*time.Millisecond); err != nil {
		return nil, fmt.Errorf("fsync probe: %w", err)
	}

	t0 := time.Now()
	env, err := startService(ctx, cfg, root)
	if err != nil {
		return nil, err
	}
	defer env.close()
	logf("service up at %s; registering and signing in %d users", env.app.URL(), cfg.clients)
	if err := env.setUpUsers(ctx, cfg.clients); err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}
	res.setup = time.Since(t0)
	if d := env.catchUp(ctx, "set-up", cfg.settleLimit); d.Err != nil {
		return nil, d.Err
	}

	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}

	if cfg.runs(phaseAppend) {
		logf("raw appends: %d writers, %v warm-up + %v", cfg.writers, cfg.warmup, cfg.duration)
		r, err := env.benchAppends(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("raw appends: %w", err)
		}
		res.appends = &r
		res.drains = append(res.drains, env.catchUp(ctx, "raw appends", cfg.settleLimit))
	}
	if cfg.runs(phasePatch) {
		logf("PATCH /v1/me: %d clients, %v warm-up + %v", cfg.clients, cfg.warmup, cfg.duration)
		r, err := env.benchPatches(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("PATCH: %w", err)
		}
		res.patches = &r
		res.drains = append(res.drains, env.catchUp(ctx, "PATCH", cfg.settleLimit))
	}
	if cfg.runs(phaseLag) {
		logf("projection lag: %.0f commands/s over %d users, %v", cfg.rate, cfg.lagUsers, cfg.lagDuration)
		r, err := env.benchLag(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("projection lag: %w", err)
		}
		res.lag = &r
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.logged = env.log.snapshot()
	report(out, res)
	return res, nil
}

// fsyncRate measures sequential 200-byte write+fsync calls per second in dir.
func fsyncRate(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 200)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

var logOutput io.Writer = os.Stderr

func logf(format string, args ...any) {
	fmt.Fprintf(logOutput, "accountbench: "+format+"\n", args...)
}

func hostInfo() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS=%d, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}
