package eventstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/internal/eventstore"
)

// startServer runs an embedded event store on a free port for one test.
func startServer(t testing.TB) *eventstore.Server {
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
	return srv
}

// newClient connects the official EventStoreDB client to srv.
func newClient(t testing.TB, srv *eventstore.Server) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func jsonEvent(eventType, data string) esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: eventType, ContentType: esdb.ContentTypeJson, Data: []byte(data)}
}

func streamName(t testing.TB) string {
	return "test-" + uuid.NewString()
}
