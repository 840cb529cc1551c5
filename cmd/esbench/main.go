// Command esbench measures the embedded event store against its targets:
// durable single-event appends at several concurrency levels through the
// official EventStoreDB client, the same workload against NATS JetStream as
// a reference durable log, and the catch-up read rate of $all.
//
//	go run ./cmd/esbench
//	go run ./cmd/esbench --writers=16 --run=esdb,store --cpuprofile=cpu.out
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/accountd/accountd/internal/benchkit"
)

// Phases, in the order they run.
const (
	phaseESDB          = "esdb"            // shared official client (the service's setup)
	phaseESDBPerWriter = "esdb-per-writer" // one client (gRPC connection) per writer
	phaseStore         = "store"           // storage.Store.Append in-process, no gRPC
	phaseJetStream     = "jetstream"       // NATS JetStream reference
	phaseCatchUp       = "catchup"         // $all read rate
)

var allPhases = []string{phaseESDB, phaseESDBPerWriter, phaseStore, phaseJetStream, phaseCatchUp}

type config struct {
	writers    []int
	duration   time.Duration
	warmup     time.Duration
	events     int
	payload    int
	dataDir    string
	phases     []string
	cpuprofile string
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
		fmt.Fprintf(os.Stderr, "esbench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "esbench: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("esbench", flag.ContinueOnError)
	writers := fs.String("writers", "1,16,256", "comma-separated concurrent writer counts")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per concurrency level")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up time per concurrency level, not measured")
	fs.IntVar(&cfg.events, "events", 200_000, "events written before the $all catch-up read")
	fs.IntVar(&cfg.payload, "payload", 200, "event payload size in bytes")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "directory for the databases (default: a temporary directory, removed afterwards)")
	phases := fs.String("run", strings.Join(allPhases, ","), "comma-separated phases to run: "+strings.Join(allPhases, ", "))
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (server and client) to this file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: esbench [flags]\n\nBenchmarks the embedded event store (durable appends, $all catch-up) against NATS JetStream.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, w := range strings.Split(*writers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("--writers: %q is not a positive number", w)
		}
		cfg.writers = append(cfg.writers, n)
	}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			return cfg, fmt.Errorf("--run: unknown phase %q (have %s)", p, strings.Join(allPhases, ", "))
		}
		cfg.phases = append(cfg.phases, p)
	}
	if cfg.duration <= 0 || cfg.warmup < 0 || cfg.events < 1 || cfg.payload < 0 {
		return cfg, errors.New("--duration and --events must be positive, --warmup and --payload not negative")
	}
	return cfg, nil
}

// results collects everything a run measured.
type results struct {
	cfg        config
	dataDir    string
	fsync      fsyncProbe
	loadBefore string // system load averages, when the platform reports them
	loadAfter  string
	appends    []appendSeries
	catchUp    *catchUpResult
	catchUpErr error
}

// appendSeries is one system's append results across concurrency levels.
type appendSeries struct {
	Phase  string
	Name   string
	Levels []levelResult
	Err    error
}

func (r *results) series(phase string) *appendSeries {
	for i := range r.appends {
		if r.appends[i].Phase == phase {
			return &r.appends[i]
		}
	}
	return nil
}

// bench runs the selected phases and writes the report to out.
func bench(ctx context.Context, cfg config, out io.Writer) (*results, error) {
	root := cfg.dataDir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "esbench-*"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(root)
	} else if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	// Each phase gets a fresh directory under root, removed when it ends.
	phaseDir := func(name string) (string, func(), error) {
		dir, err := os.MkdirTemp(root, name+"-*")
		return dir, func() { os.RemoveAll(dir) }, err
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

	res := &results{cfg: cfg, dataDir: root, loadBefore: loadAverage()}
	logf("probing fsync rate in %s", root)
	var err error
	if res.fsync, err = probeFsync(root, time.Second); err != nil {
		return nil, fmt.Errorf("fsync probe: %w", err)
	}

	appendPhases := []struct {
		phase, name string
		run         func(ctx context.Context, dir string) ([]levelResult, error)
	}{
		{phaseESDB, "esdb, shared client", func(ctx context.Context, dir string) ([]levelResult, error) {
			return benchESDBAppends(ctx, cfg, dir, esdbSharedClient)
		}},
		{phaseESDBPerWriter, "esdb, client per writer", func(ctx context.Context, dir string) ([]levelResult, error) {
			return benchESDBAppends(ctx, cfg, dir, esdbClientPerWriter)
		}},
		{phaseStore, "esdb storage in-process (no gRPC)", func(ctx context.Context, dir string) ([]levelResult, error) {
			return benchESDBAppends(ctx, cfg, dir, esdbInProcess)
		}},
		{phaseJetStream, "NATS JetStream, sync publish", func(ctx context.Context, dir string) ([]levelResult, error) {
			return benchJetStream(ctx, cfg, dir)
		}},
	}
	for _, p := range appendPhases {
		if !cfg.runs(p.phase) {
			continue
		}
		logf("appends: %s, writers %v, %v warm-up + %v each", p.name, cfg.writers, cfg.warmup, cfg.duration)
		dir, cleanup, err := phaseDir(p.phase)
		if err != nil {
			return nil, err
		}
		levels, err := p.run(ctx, dir)
		cleanup()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.appends = append(res.appends, appendSeries{Phase: p.phase, Name: p.name, Levels: levels, Err: err})
	}

	if cfg.runs(phaseCatchUp) {
		logf("catch-up: writing %d events, then reading $all", cfg.events)
		dir, cleanup, err := phaseDir(phaseCatchUp)
		if err != nil {
			return nil, err
		}
		cu, err := benchCatchUp(ctx, cfg, dir)
		cleanup()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.catchUp, res.catchUpErr = &cu, err
	}

	res.loadAfter = loadAverage()
	report(out, res)
	return res, nil
}

// fsyncProbe is what a single writer doing write+fsync achieves in a directory.
type fsyncProbe struct {
	Rate     float64
	P50, P99 time.Duration
}

// probeFsync measures sequential 200-byte write+fsync calls in dir for d:
// the ceiling for a single writer that waits for each write to be durable,
// and the latency floor of any durable append.
func probeFsync(dir string, d time.Duration) (fsyncProbe, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-*")
	if err != nil {
		return fsyncProbe{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := makePayload(200)
	var lat []time.Duration
	start := time.Now()
	for time.Since(start) < d {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return fsyncProbe{}, err
		}
		if err := f.Sync(); err != nil {
			return fsyncProbe{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	return fsyncProbe{
		Rate: float64(len(lat)) / elapsed.Seconds(),
		P50:  benchkit.Percentile(lat, 50),
		P99:  benchkit.Percentile(lat, 99),
	}, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "esbench: "+format+"\n", args...)
}

// loadAverage returns the 1, 5 and 15 minute load averages on Linux, else "".
// Other busy processes on the machine skew every figure here.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func hostInfo() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS=%d, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}
