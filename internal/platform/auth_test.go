package platform_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/accountd/accountd/internal/keyring"
)

func esdbClient(t *testing.T, url string) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// No embedded server takes a connection without the generated
// credentials; the secrets they use are readable by their owner only; and
// a restart keeps them.
func TestEmbeddedServersRequireCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	p := startPlatform(t, ctx, dir)
	creds, err := keyring.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds.EventStore.Password) < 40 || len(creds.NATS.Password) < 40 || creds.EventStore.Password == creds.NATS.Password {
		t.Fatalf("weak credentials %+v", creds)
	}

	t.Run("event store", func(t *testing.T) {
		event := esdb.EventData{EventID: uuid.New(), EventType: "session.started", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}
		for name, tt := range map[string]struct {
			url  string
			want esdb.ErrorCode
		}{
			"no credentials": {p.EventStore.URL(), esdb.ErrorCodeAccessDenied},
			"wrong password": {p.EventStore.URLFor(creds.EventStore.Username, "guess"), esdb.ErrorCodeUnauthenticated},
		} {
			_, err := esdbClient(t, tt.url).AppendToStream(ctx, "session-x", esdb.AppendToStreamOptions{}, event)
			var e *esdb.Error
			if !errors.As(err, &e) || e.Code() != tt.want {
				t.Errorf("%s: %v, want code %d", name, err, tt.want)
			}
		}
		plain := strings.Replace(p.EventStore.URL(), "tls=true", "tls=false", 1)
		if _, err := esdbClient(t, plain).AppendToStream(ctx, "session-x", esdb.AppendToStreamOptions{}, event); err == nil {
			t.Error("plain-text client got in")
		}
		if p.EventStoreURL == "" || strings.Contains(p.EventStoreURL, creds.EventStore.Password) {
			t.Errorf("the shown URL %q carries the password", p.EventStoreURL)
		}
	})

	t.Run("NATS", func(t *testing.T) {
		for name, opts := range map[string][]nats.Option{
			"no credentials": nil,
			"wrong password": {nats.UserInfo(creds.NATS.Username, "guess")},
		} {
			nc, err := nats.Connect(p.NATSURL, append(opts, nats.MaxReconnects(0))...)
			if err == nil {
				nc.Close()
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("%s: %v, want an authorization violation", name, err)
			}
		}
	})

	t.Run("FerretDB listens on no network", func(t *testing.T) {
		if !strings.HasPrefix(p.MongoURI, "unix:") {
			t.Fatalf("MongoDB at %s", p.MongoURI)
		}
		sock := strings.TrimPrefix(p.MongoURI, "unix:")
		if info, err := os.Stat(sock); err != nil || info.Mode()&fs.ModeSocket == 0 {
			t.Fatalf("socket %s: %v", sock, err)
		}
		if m := mode(t, filepath.Dir(sock)); m != 0o700 {
			t.Fatalf("socket directory mode %o", m)
		}
	})

	t.Run("secrets are private", func(t *testing.T) {
		if m := mode(t, dir); m != 0o700 {
			t.Errorf("data directory mode %o", m)
		}
		for _, f := range []string{keyring.File, "tls/ca.pem", "tls/server.pem", "tls/server-key.pem"} {
			if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
				t.Errorf("%s mode %o", f, m)
			}
		}
	})

	p.Close()
	startPlatform(t, ctx, dir)
	again, err := keyring.Load(dir)
	if err != nil || again != creds {
		t.Fatalf("credentials changed on restart: %v", err)
	}
}

// A data directory made with looser permissions is tightened.
func TestLooseDataDirectoryIsTightened(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	startPlatform(t, ctx, dir)
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("mode %o", m)
	}
}
