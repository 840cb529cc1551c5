// Command devcluster runs accountd as several replicas on one machine, the
// way production runs it: PostgreSQL with FerretDB, three clustered NATS
// JetStream nodes, the event store and N accountd replicas behind a
// round-robin proxy, all on loopback with generated credentials. It prints
// the URLs and runs until Ctrl-C (SIGINT or SIGTERM), then stops everything
// and removes its temporary directory (unless --keep or --dir).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/accountd/accountd/internal/devcluster"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("devcluster", flag.ContinueOnError)
	flags.SetOutput(stderr)
	replicas := flags.Int("n", 3, "number of accountd replicas (1 to 64)")
	dir := flags.String("dir", "", "directory for data, logs and credentials; must be empty or absent, and is kept (default: a new temporary directory)")
	keep := flags.Bool("keep", false, "keep the temporary directory when stopping")
	proxyAddr := flags.String("proxy", "127.0.0.1:0", "address of the round-robin proxy in front of the replicas (port 0 picks a free port)")
	binDir := flags.String("bin", "", "directory for the built binaries (default: under the user's cache directory; rebuilt only when out of date)")
	pgBin := flags.String("postgres-bin", "", "directory holding PostgreSQL's initdb and postgres (default: on PATH, else /usr/lib/postgresql/N/bin)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: devcluster [-n N] [flags] [-- accountd flags for every replica]\n\n"+
			"Runs N accountd replicas behind a round-robin proxy on PostgreSQL + FerretDB,\n"+
			"three clustered NATS JetStream nodes and the event store, on loopback ports\n"+
			"with generated credentials (in DIR/cluster.env). Ctrl-C stops everything.\n"+
			"Needs PostgreSQL's server programs (Debian: apt-get install postgresql).\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *replicas < 1 || *replicas > 64 {
		fmt.Fprintf(stderr, "devcluster: -n %d: want 1 to 64 replicas\n", *replicas)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	c, err := devcluster.Start(ctx, devcluster.Options{
		Replicas:    *replicas,
		Dir:         *dir,
		Keep:        *keep,
		Build:       devcluster.BuildOptions{BinDir: *binDir},
		ReplicaArgs: flags.Args(),
		ProxyListen: *proxyAddr,
		PostgresBin: *pgBin,
		Logger:      logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "devcluster: cannot start: %v\n", err)
		return 1
	}
	printURLs(stdout, c, time.Since(started))
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping...")
	if err := c.Close(); err != nil {
		fmt.Fprintf(stderr, "devcluster: stopping: %v\n", err)
		return 1
	}
	if *keep || *dir != "" {
		fmt.Fprintf(stdout, "stopped; data kept in %s\n", c.Dir())
	} else {
		fmt.Fprintln(stdout, "stopped; temporary directory removed")
	}
	return 0
}

func printURLs(w io.Writer, c *devcluster.Cluster, took time.Duration) {
	fmt.Fprintf(w, "devcluster: %d replicas of accountd, started in %s\n", c.Replicas(), took.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  proxy (round robin)  %s\n", c.ProxyURL())
	for i := range c.Replicas() {
		r := c.Replica(i)
		fmt.Fprintf(w, "  replica %-12d %s  (pid %d, log %s)\n", i, c.ReplicaURL(i), r.PID(), r.LogFile())
	}
	fmt.Fprintf(w, "  NATS                 %s\n", redact(c.NATSURL()))
	fmt.Fprintf(w, "  event store          %s\n", redact(c.EventStoreURL()))
	fmt.Fprintf(w, "  MongoDB (FerretDB)   %s\n", redact(c.MongoURI()))
	fmt.Fprintf(w, "  PostgreSQL           %s\n", redact(c.PostgresURL()))
	fmt.Fprintf(w, "passwords: %s (source it to point accountctl at this cluster)\n", filepath.Join(c.Dir(), "cluster.env"))
	fmt.Fprintf(w, "logs: %s\n", filepath.Join(c.Dir(), "logs"))
	fmt.Fprintln(w, "Ctrl-C stops everything.")
}

// redact hides the passwords of a URL or a comma-separated list of URLs.
func redact(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			continue
		}
		if _, set := u.User.Password(); set {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
