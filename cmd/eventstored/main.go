// Command eventstored serves an EventStoreDB-compatible event store over
// insecure gRPC, for development, tests and the embedded account service.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/accountd/accountd/internal/eventstore"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("eventstored", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:2113", "address to serve gRPC on (port 0 picks a free port)")
	dataDir := flags.String("data", "./data/eventstore", "directory that holds the event log")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: eventstored [--listen ADDR] [--data DIR]\n\nAn EventStoreDB-compatible event store (insecure gRPC, single node).\nConnect with esdb://ADDR?tls=false.\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "eventstored: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		logger.Error("cannot create data directory", "dir", *dataDir, "err", err)
		return 1
	}
	srv, err := eventstore.Start(eventstore.Config{Listen: *listen, DataDir: *dataDir, Logger: logger})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	// Tools and tests read the chosen address from this line.
	fmt.Printf("eventstored listening on %s\n", srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Wait(ctx); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}
