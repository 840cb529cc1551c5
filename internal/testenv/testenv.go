// Package testenv starts the embedded real servers for tests, each on a free
// port and a temporary directory, stopped when the test ends.
package testenv

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/internal/eventstore"
)

// EventStore starts an embedded event store and connects the official
// client to it.
func EventStore(t testing.TB) (*eventstore.Server, *esdb.Client) {
	t.Helper()
	srv, err := eventstore.Start(eventstore.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Insecure: true})
	if err != nil {
		t.Fatalf("start event store: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close event store: %v", err)
		}
	})
	cfg, err := esdb.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return srv, client
}
