package sharedlimits_test

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/commands/limitstest"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/sharedlimits"
)

// startNATS starts a JetStream server for the test (or benchmark), stopped
// when it ends.
func startNATS(tb testing.TB) *natsserver.Server {
	tb.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, JetStream: true,
		StoreDir: tb.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	tb.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("NATS not ready")
	}
	return srv
}

// jetStreamOn connects to srv for the test, closed when it ends.
func jetStreamOn(tb testing.TB, srv *natsserver.Server) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

func TestContract(t *testing.T) {
	srv := startNATS(t)
	limitstest.Run(t, func(t *testing.T, now func() time.Time) commands.Limits {
		return sharedlimits.New(coord.New(jetStreamOn(t, srv), coord.Options{}), now)
	})
}
