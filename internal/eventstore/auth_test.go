package eventstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/internal/eventstore"
	"github.com/accountd/accountd/internal/keyring"
)

func startSecure(t *testing.T) *eventstore.Server {
	t.Helper()
	dir := t.TempDir()
	files, err := keyring.EnsureTLS(filepath.Join(dir, "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return startServerWith(t, eventstore.Config{DataDir: filepath.Join(dir, "log"),
		Users: map[string]string{"ops": "right-password"}, TLSCertFile: files.Cert, TLSKeyFile: files.Key, CAFile: files.CA})
}

func connect(t *testing.T, url string) *esdb.Client {
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

func appendOne(ctx context.Context, c *esdb.Client) error {
	_, err := c.AppendToStream(ctx, "session-"+uuid.NewString(), esdb.AppendToStreamOptions{},
		esdb.EventData{EventID: uuid.New(), EventType: "session.started", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)})
	return err
}

func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

// The official client signs in with the connection string's credentials,
// over TLS; without them it is denied access, with wrong ones it is
// unauthenticated, on every kind of call, and nothing is written.
func TestCredentialsAreRequired(t *testing.T) {
	srv := startSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good := connect(t, srv.URLFor("ops", "right-password"))
	if err := appendOne(ctx, good); err != nil {
		t.Fatalf("signed-in append: %v", err)
	}
	if !strings.Contains(srv.URL(), "tls=true") || !strings.Contains(srv.URL(), "tlsCAFile=") {
		t.Fatalf("URL %s", srv.URL())
	}
	for _, tt := range []struct {
		name string
		url  string
		want esdb.ErrorCode
	}{
		{"no credentials", srv.URL(), esdb.ErrorCodeAccessDenied},
		{"wrong password", srv.URLFor("ops", "wrong-password"), esdb.ErrorCodeUnauthenticated},
		{"unknown user", srv.URLFor("eve", "right-password"), esdb.ErrorCodeUnauthenticated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, tt.url)
			if err := appendOne(ctx, c); code(err) != tt.want {
				t.Fatalf("append: %v (code %d), want code %d", err, code(err), tt.want)
			}
			// A large append is refused the same way, not as a broken stream.
			big := make([]esdb.EventData, 500)
			for i := range big {
				big[i] = esdb.EventData{EventID: uuid.New(), EventType: "x", ContentType: esdb.ContentTypeJson, Data: []byte(`{"pad":"` + strings.Repeat("p", 1000) + `"}`)}
			}
			if _, err := c.AppendToStream(ctx, "big-"+uuid.NewString(), esdb.AppendToStreamOptions{}, big...); code(err) != tt.want {
				t.Fatalf("large append: %v", err)
			}
			if rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{}, 10); err == nil {
				_, err = rs.Recv()
				rs.Close()
				if code(err) != tt.want {
					t.Fatalf("read $all: %v", err)
				}
			} else if code(err) != tt.want {
				t.Fatalf("read $all: %v", err)
			}
			sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{})
			if err == nil {
				ev := sub.Recv()
				sub.Close()
				if ev.SubscriptionDropped == nil || code(ev.SubscriptionDropped.Error) != tt.want {
					t.Fatalf("subscription: %+v", ev)
				}
			} else if code(err) != tt.want {
				t.Fatalf("subscribe: %v", err)
			}
		})
	}
	// Only the signed-in append reached the log.
	rs, err := good.ReadAll(ctx, esdb.ReadAllOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	n := 0
	for {
		if _, err := rs.Recv(); err != nil {
			break
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d events in the log, want 1", n)
	}
}

// A client that does not trust the server's CA cannot connect at all.
func TestUntrustedCertificateIsRefused(t *testing.T) {
	srv := startSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := strings.Split(srv.URLFor("ops", "right-password"), "&tlsCAFile=")[0]
	if err := appendOne(ctx, connect(t, url)); err == nil {
		t.Fatal("connected without trusting the certificate")
	}
}
