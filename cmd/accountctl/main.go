// Command accountctl investigates and operates an accountd deployment: who
// held a username when, what happened to an account, the raw event log,
// and rebuilding and verifying read models. It talks to the servers through
// the same clients as the service, with the same --data, address flags and
// environment variables, so by default it reaches the embedded servers of
// an accountd running with default settings (and the credentials they keep
// in the data directory).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/platform"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// env is what every command shares: where the servers are, and how to
// print.
type env struct {
	ctx            context.Context
	cfg            platform.Config
	json           bool
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a mistake in the command line (exit 2).
type usageError struct{ error }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:           "accountctl",
		Short:         "Investigate and operate accountd: username history, account timelines, admins, the event log, read models",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	f.StringVar(&e.cfg.DataDir, "data", "./data", "data directory of the embedded servers (their credentials are read from it)")
	f.StringVar(&e.cfg.EventStoreListen, "eventstore-listen", "127.0.0.1:2113", "address of the embedded event store")
	f.StringVar(&e.cfg.NATSListen, "nats-listen", "127.0.0.1:4222", "address of the embedded NATS")
	f.StringVar(&e.cfg.EventStoreURL, "eventstore-url", getenv("EVENTSTORE_URL"), "external EventStoreDB (env EVENTSTORE_URL)")
	f.StringVar(&e.cfg.NATSURL, "nats-url", getenv("NATS_URL"), "external NATS (env NATS_URL)")
	f.StringVar(&e.cfg.MongoURI, "mongo-uri", getenv("MONGO_URI"), "external MongoDB (env MONGO_URI)")
	f.StringVar(&e.cfg.Database, "database", "accounts", "MongoDB database of the read models")
	f.BoolVar(&e.json, "json", false, "print JSON for scripts (one array, oldest first) instead of a table")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(e.usernameHistoryCmd(), e.userHistoryCmd(), e.replayCmd(), e.rebuildCmd(), e.verifyCmd(), e.parkedCmd())
	root.AddCommand(e.adminsCmd())
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(stderr, "accountctl: %s\n", ee.msg)
		}
		return ee.code
	case errors.As(err, &ue), isUsage(err):
		fmt.Fprintf(stderr, "accountctl: %v (see accountctl --help)\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "accountctl: %s\n", oneLine(err))
	return 1
}

// exitError ends a command with a given code (verify's differences are 1).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// isUsage: cobra's own complaints about the command line.
func isUsage(err error) bool {
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand", "invalid argument"} {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// dial connects to the servers a command needs.
func (e *env) dial(need platform.Servers) (*platform.Platform, error) {
	return platform.Dial(e.ctx, e.cfg, need)
}

// keys opens the accounts' data keys (for personal data), under
// ACCOUNTD_SECRET_KEY or the secret key in the data directory.
func (e *env) keys(p *platform.Platform) (*keystore.Store, error) {
	return app.OpenKeys(p.DB, e.getenv("ACCOUNTD_SECRET_KEY"), e.cfg.DataDir, false)
}

// terminal: stdout is a terminal (a table), else plain output.
func (e *env) terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseTime reads an RFC 3339 time flag.
func parseTime(flag, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, usageError{fmt.Errorf("--%s %q: want an RFC 3339 time like 2026-12-01T10:00:00Z", flag, s)}
	}
	return t, nil
}

// parsePosition reads a $all position flag.
func parsePosition(flag, s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usageError{fmt.Errorf("--%s %q: want a position, the integer replay prints", flag, s)}
	}
	return n, nil
}
