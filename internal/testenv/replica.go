package testenv

import (
	"context"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/keyring"
	"github.com/accountd/accountd/internal/platform"
)

// Replica starts another replica of the service whose embedded servers
// run in dir under first (started by App with that dir): the same event
// store, NATS and FerretDB, and the same secret key, as replicas share
// external servers. cfg gets App's test defaults.
func Replica(t testing.TB, first *app.App, dir string, cfg app.Config) (*app.App, *httptest.Server) {
	t.Helper()
	creds, err := keyring.Load(dir)
	if err != nil {
		t.Fatalf("credentials of the first replica: %v", err)
	}
	secret, err := keyring.LoadSecretKey(dir)
	if err != nil {
		t.Fatalf("secret key of the first replica: %v", err)
	}
	sock, err := platform.MongoSocket(dir)
	if err != nil {
		t.Fatalf("FerretDB socket of the first replica: %v", err)
	}
	// The MongoDB driver lowercases a socket path given as a URI's host:
	// reach the socket through a link on a lower-case path.
	linkDir, err := os.MkdirTemp("", "accountd-replica")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(linkDir) })
	link := filepath.Join(linkDir, "mongo.sock")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	withPassword := func(redacted string, l keyring.Login) string {
		u, err := neturl.Parse(redacted)
		if err != nil {
			t.Fatalf("URL of the first replica: %v", err)
		}
		u.User = neturl.UserPassword(l.Username, l.Password)
		return u.String()
	}
	cfg.Platform = platform.Config{
		DataDir:       t.TempDir(),
		EventStoreURL: withPassword(first.Platform.EventStoreURL, creds.EventStore),
		NATSURL:       withPassword(first.Platform.NATSURL, creds.NATS),
		MongoURI:      "mongodb://" + neturl.PathEscape(link) + "/?directConnection=true",
	}
	cfg.SecretKey = secret
	applyTestDefaults(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start another replica: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return a, srv
}
