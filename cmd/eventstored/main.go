// Command eventstored serves an EventStoreDB-compatible event store over
// gRPC. Clients sign in with the users of --users, over TLS (the official
// client sends credentials only over TLS); --insecure-no-auth serves
// anyone, in plain text, on a loopback address only, for development and
// tests.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/accountd/accountd/internal/eventstore"
	"github.com/accountd/accountd/internal/keyring"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("eventstored", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen", "127.0.0.1:2113", "address to serve gRPC on (port 0 picks a free port)")
	advertise := flags.String("advertise", "", "HOST:PORT that cluster discovery (esdb+discover:// URLs, gossip) tells clients to dial; default: the address listened on")
	dataDir := flags.String("data", "./data/eventstore", "directory that holds the event log")
	usersFile := flags.String("users", "", "file of users who may connect, one name:password per line (# comments)")
	certFile := flags.String("tls-cert", "", "TLS certificate (PEM); default: a certificate generated in tls/ beside --data (DATA/../tls), with its CA")
	keyFile := flags.String("tls-key", "", "TLS private key (PEM), with --tls-cert")
	insecure := flags.Bool("insecure-no-auth", false, "serve anyone, without TLS: any local process can then read and write every stream; a development switch, only with a loopback --listen (127.0.0.1, ::1, localhost)")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: eventstored --users FILE [--tls-cert F --tls-key F] [--listen ADDR] [--advertise HOST:PORT] [--data DIR]\n"+
			"       eventstored --insecure-no-auth [--listen LOOPBACK:PORT] [--data DIR]\n\n"+
			"An EventStoreDB-compatible event store (gRPC, single node). Connect with\n"+
			"esdb://USER:PASSWORD@ADDR?tls=true&tlsCAFile=CA (printed at start), or\n"+
			"discover it as a one-node cluster with esdb+discover://... (gossip is open\n"+
			"to anonymous callers, as on EventStoreDB).\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "eventstored: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	if *insecure == (*usersFile != "") {
		fmt.Fprintln(stderr, "eventstored: give --users FILE (name:password lines), or, for development on a loopback --listen, --insecure-no-auth to serve anyone")
		return 2
	}
	if *insecure && !loopbackListen(*listen) {
		fmt.Fprintf(stderr, "eventstored: --insecure-no-auth serves anyone: only with a loopback --listen (127.0.0.1, ::1, localhost), not %q; give --users FILE\n", *listen)
		return 2
	}
	if (*certFile == "") != (*keyFile == "") {
		fmt.Fprintln(stderr, "eventstored: --tls-cert and --tls-key go together")
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if *advertise != "" {
		if _, _, err := net.SplitHostPort(*advertise); err != nil {
			fmt.Fprintf(stderr, "eventstored: --advertise %q: want HOST:PORT\n", *advertise)
			return 2
		}
	}
	cfg := eventstore.Config{Listen: *listen, Advertise: *advertise, DataDir: *dataDir, Logger: logger, Insecure: *insecure}
	if *insecure {
		logger.Warn("INSECURE: --insecure-no-auth: no authentication and no TLS; any process that reaches " + *listen + " can read and write every stream")
	} else {
		users, err := readUsers(*usersFile)
		if err != nil {
			fmt.Fprintf(stderr, "eventstored: %v\n", err)
			return 2
		}
		cfg.Users, cfg.TLSCertFile, cfg.TLSKeyFile = users, *certFile, *keyFile
		if *certFile == "" {
			host, _, _ := net.SplitHostPort(*listen)
			hosts := []string{host}
			if advertised, _, err := net.SplitHostPort(*advertise); err == nil {
				hosts = append(hosts, advertised)
			}
			files, err := keyring.EnsureTLS(filepath.Join(filepath.Dir(filepath.Clean(*dataDir)), "tls"), hosts)
			if err != nil {
				logger.Error("cannot make a TLS certificate", "err", err)
				return 1
			}
			cfg.TLSCertFile, cfg.TLSKeyFile, cfg.CAFile = files.Cert, files.Key, files.CA
		}
	}
	if err := keyring.PrivateDir(*dataDir); err != nil {
		logger.Error("cannot create data directory", "dir", *dataDir, "err", err)
		return 1
	}
	srv, err := eventstore.Start(cfg)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	// Tools and tests read the chosen address from this line.
	fmt.Fprintf(stdout, "eventstored listening on %s\n", srv.Addr())
	fmt.Fprintf(stdout, "connect with %s (plus USER:PASSWORD@ unless insecure)\n", srv.URL())
	fmt.Fprintf(stdout, "or discover it with %s (gossip advertises %s)\n", srv.DiscoverURL(), srv.Advertised())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Wait(ctx); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// loopbackListen says whether addr listens on loopback only. An address
// that does not parse is left for the listener to refuse.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// readUsers reads name:password lines.
func readUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer f.Close()
	users := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, password, ok := strings.Cut(line, ":")
		if !ok || name == "" || password == "" {
			return nil, fmt.Errorf("users: %s line %d: want name:password", path, n)
		}
		users[name] = password
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if len(users) == 0 {
		return nil, errors.New("users: " + path + " names no user")
	}
	return users, nil
}
