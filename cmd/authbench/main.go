// Command authbench measures credential checks and credential commands of
// the account service on its embedded defaults (event store, NATS and
// FerretDB in this process, data in a temporary directory, production
// argon2id parameters), with the load generator in the same process:
//
//   - GET /v1/auth/whoami with a personal access token (the in-memory token
//     index, no database), target >= 12,000 requests/s and p99 <= 10 ms at
//     64 connections;
//
//   - GET /v1/me with the same token and with a session (the read model);
//
//   - PUT /v1/me/password (argon2id bound, by design): rate and p99.
//
//     go run ./cmd/authbench
//     go run ./cmd/authbench --connections 64 --duration 10s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/platform"
)

type config struct {
	connections     int
	duration        time.Duration
	warmup          time.Duration
	passwordWorkers int
	dataDir         string
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("authbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.connections, "connections", 64, "concurrent connections (closed loop) for the read phases")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time of each phase")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured lead-in of each phase")
	fs.IntVar(&cfg.passwordWorkers, "password-workers", 4, "concurrent password changes, each on its own account")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "directory for the databases (default: a temporary one, removed afterwards)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: authbench [flags]\n\nBenchmarks credential checks (whoami with a token, GET /v1/me) and password changes on embedded servers.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || cfg.connections < 1 || cfg.passwordWorkers < 1 || cfg.duration <= 0 {
		fmt.Fprintln(stderr, "authbench: want no arguments, and positive --connections, --password-workers and --duration")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "authbench: %v\n", err)
		return 1
	}
	return 0
}

type result struct {
	name    string
	workers int
	samples benchkit.Samples
	window  time.Duration
	cpu     time.Duration
	target  string
	met     func(rate float64, p99 time.Duration) bool
}

func (r result) rate() float64 { return float64(len(r.samples.Lat)) / r.window.Seconds() }

func bench(ctx context.Context, cfg config, out io.Writer) error {
	dir := cfg.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "authbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	unlimited := commands.Rate{Burst: 1_000_000, Every: time.Millisecond}
	a, err := app.Start(startCtx, app.Config{
		Platform:   platform.Config{DataDir: dir, EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"},
		HTTPListen: "127.0.0.1:0",
		Logger:     slog.New(slog.DiscardHandler),
		// The access log is written (and thrown away) as in production.
		AccessLog:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
		SignInLimits:      commands.SignInLimits{PerAddress: unlimited, PerAccountAddress: unlimited, PerAccount: unlimited},
		RegistrationLimit: unlimited,
	})
	if err != nil {
		return fmt.Errorf("start service: %w", err)
	}
	defer a.Close()
	c := &client{base: a.URL(), http: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: cfg.connections * 2, MaxConnsPerHost: cfg.connections * 2,
		DialContext: (&net.Dialer{KeepAlive: time.Minute}).DialContext,
	}}}
	session, err := c.signUp(ctx, "bench0", "bench-passphrase-0")
	if err != nil {
		return err
	}
	var created struct {
		Token string `json:"token"`
	}
	if err := c.json(ctx, "POST", "/v1/me/tokens", session, map[string]any{
		"title": "bench", "scopes": []string{"profile:read"}, "expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	}, 201, &created); err != nil {
		return err
	}
	var results []result
	phase := func(name string, workers int, op func(worker int) benchkit.Op, target string, met func(float64, time.Duration) bool) error {
		fmt.Fprintf(os.Stderr, "authbench: %s: %d workers, %s warm-up + %s\n", name, workers, cfg.warmup, cfg.duration)
		from := time.Now().Add(cfg.warmup)
		to := from.Add(cfg.duration)
		cpuCh := make(chan time.Duration, 1)
		go func() {
			time.Sleep(time.Until(from))
			start := benchkit.ProcessCPU()
			time.Sleep(time.Until(to))
			cpuCh <- benchkit.ProcessCPU() - start
		}()
		s, err := benchkit.ClosedLoop(ctx, workers, from, to, op)
		if err != nil {
			return err
		}
		results = append(results, result{name: name, workers: workers, samples: s, window: cfg.duration, cpu: <-cpuCh, target: target, met: met})
		return nil
	}
	get := func(path, token string) func(int) benchkit.Op {
		return func(int) benchkit.Op {
			return func(ctx context.Context, _ int) error { return c.get(ctx, path, token) }
		}
	}
	if err := phase("GET /v1/auth/whoami, token", cfg.connections, get("/v1/auth/whoami", created.Token),
		">= 12,000/s, p99 <= 10 ms", func(r float64, p99 time.Duration) bool { return r >= 12000 && p99 <= 10*time.Millisecond }); err != nil {
		return err
	}
	if err := phase("GET /v1/me, token", cfg.connections, get("/v1/me", created.Token), "", nil); err != nil {
		return err
	}
	if err := phase("GET /v1/me, session", cfg.connections, get("/v1/me", session), "", nil); err != nil {
		return err
	}
	// Password changes: each worker has its own account and alternates
	// between two passwords.
	sessions := make([]string, cfg.passwordWorkers)
	for i := range sessions {
		if sessions[i], err = c.signUp(ctx, fmt.Sprintf("pw%d", i), fmt.Sprintf("first-passphrase-%d", i)); err != nil {
			return err
		}
	}
	if err := phase("PUT /v1/me/password", cfg.passwordWorkers, func(i int) benchkit.Op {
		return func(ctx context.Context, n int) error {
			old, next := fmt.Sprintf("first-passphrase-%d", i), fmt.Sprintf("second-passphrase-%d", i)
			if n%2 == 1 {
				old, next = next, old
			}
			return c.json(ctx, "PUT", "/v1/me/password", sessions[i], map[string]any{"current_password": old, "new_password": next, "confirm_password": next}, 204, nil)
		}
	}, "argon2id bound, by design", nil); err != nil {
		return err
	}
	report(out, results, runtime.NumCPU())
	return nil
}

func report(out io.Writer, results []result, cpus int) {
	fmt.Fprintf(out, "accountd credential checks on embedded servers, load generator in the same process (%d CPUs, GOMAXPROCS=%d, %s)\n", cpus, runtime.GOMAXPROCS(0), runtime.Version())
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "workload\tworkers\treq/s\tp50\tp99\tmax\tCPU/req\terrors\ttarget\tmet\t")
	for _, r := range results {
		lat := r.samples.Lat
		rate := r.rate()
		p99 := benchkit.Percentile(lat, 99)
		met := "-"
		if r.met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[r.met(rate, p99)]
		}
		cpuPer := time.Duration(0)
		if len(lat) > 0 {
			cpuPer = r.cpu / time.Duration(len(lat))
		}
		errs := fmt.Sprint(r.samples.Errors)
		if r.samples.FirstErr != nil {
			errs += " (" + r.samples.FirstErr.Error() + ")"
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.workers, rate,
			ms(benchkit.Percentile(lat, 50)), ms(p99), ms(benchkit.Percentile(lat, 100)), us(cpuPer), errs, r.target, met)
	}
	w.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
func us(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

type client struct {
	base string
	http *http.Client
}

func (c *client) get(ctx context.Context, path, token string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, res.StatusCode)
	}
	return nil
}

func (c *client) json(ctx context.Context, method, path, token string, body any, want int, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d: %s", method, path, res.StatusCode, answer)
	}
	if out != nil {
		return json.Unmarshal(answer, out)
	}
	return nil
}

func (c *client) signUp(ctx context.Context, username, password string) (string, error) {
	creds := map[string]any{"username": username, "password": password}
	if err := c.json(ctx, "POST", "/v1/users", "", creds, 201, nil); err != nil {
		return "", err
	}
	var s struct {
		Token string `json:"token"`
	}
	err := c.json(ctx, "POST", "/v1/sessions", "", creds, 201, &s)
	return s.Token, err
}
