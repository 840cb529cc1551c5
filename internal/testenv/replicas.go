package testenv

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/keyring"
	"github.com/accountd/accountd/internal/platform"
)

// SharedServers starts one set of servers (the embedded event store and
// NATS, and FerretDB on loopback TCP) for several replicas of the service in
// one test process, and returns the configuration a replica connects with.
// They stop when the test ends.
func SharedServers(t testing.TB) platform.Config {
	t.Helper()
	dir := t.TempDir()
	mongoURI, stopMongo, err := platform.StartFerretTCP(dir + "/ferretdb-tcp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopMongo)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: dir, EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", MongoURI: mongoURI})
	if err != nil {
		t.Fatalf("start servers: %v", err)
	}
	t.Cleanup(p.Close)
	creds, err := keyring.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://" + url.UserPassword(creds.NATS.Username, creds.NATS.Password).String() + "@" + strings.TrimPrefix(p.NATS.ConnectedUrl(), "nats://")
	return platform.Config{
		EventStoreURL: p.EventStore.URLFor(creds.EventStore.Username, creds.EventStore.Password),
		NATSURL:       natsURL,
		MongoURI:      mongoURI,
	}
}

// ReplicaOn starts one replica of the service on servers (SharedServers),
// with cfg's secret key (every replica needs the same one). Its Close is
// left to the test, which may stop it early; the test's end closes it
// otherwise.
func ReplicaOn(t testing.TB, cfg app.Config, servers platform.Config) (*app.App, *httptest.Server) {
	t.Helper()
	if cfg.SecretKey == "" {
		t.Fatal("replicas need a shared secret key")
	}
	cfg.Platform = servers
	if cfg.MetricsListen == "" {
		cfg.MetricsListen = "off"
	}
	applyTestDefaults(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start replica: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return a, srv
}
