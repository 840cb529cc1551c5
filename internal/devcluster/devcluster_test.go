package devcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/internal/devcluster"
	"github.com/accountd/accountd/internal/proctree"
)

// startCluster starts a cluster for one test, closed when it ends. Without
// PostgreSQL the test is skipped, except in CI, where it fails.
func startCluster(t testing.TB, ctx context.Context, opts devcluster.Options) *devcluster.Cluster {
	t.Helper()
	c, err := devcluster.Start(ctx, opts)
	if errors.Is(err, devcluster.ErrNoPostgres) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// buildFirst builds the binaries before the clock of a test starts: the
// first build of accountd takes minutes on a small machine, later ones
// seconds.
func buildFirst(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	started := time.Now()
	if _, err := devcluster.Build(ctx, devcluster.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("binaries built or checked in %s", time.Since(started).Round(time.Millisecond))
}

func TestTwoReplicasBehindTheProxy(t *testing.T) {
	buildFirst(t)
	started := time.Now()
	// A guard against hangs, not a speed check: the whole test takes about
	// 30 s on an idle 2-core machine, but far longer on a loaded one.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startCluster(t, ctx, devcluster.Options{Replicas: 2})
	t.Logf("cluster of 2 replicas started in %s", time.Since(started).Round(time.Millisecond))
	children := descendants(t, os.Getpid())
	if len(children) < 7 { // postgres, 3 NATS nodes, eventstored, 2 replicas (and postgres's own)
		t.Fatalf("child processes %v", children)
	}

	t.Run("every server refuses a wrong login", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			check func(ctx context.Context, good bool) error
		}{
			{"PostgreSQL", func(ctx context.Context, good bool) error {
				conn, err := pgx.Connect(ctx, login(c.PostgresURL(), good))
				if err == nil {
					err = conn.Ping(ctx)
					conn.Close(ctx)
				}
				return err
			}},
			{"FerretDB", func(ctx context.Context, good bool) error {
				client, err := mongo.Connect(ctx, options.Client().ApplyURI(login(c.MongoURI(), good)).SetServerSelectionTimeout(5*time.Second))
				if err != nil {
					return err
				}
				defer client.Disconnect(ctx)
				_, err = client.Database("accounts").ListCollectionNames(ctx, map[string]any{})
				return err
			}},
			{"NATS", func(_ context.Context, good bool) error {
				nc, err := nats.Connect(login(c.NATSURL(), good), nats.Timeout(5*time.Second), nats.NoReconnect())
				if err == nil {
					nc.Close()
				}
				return err
			}},
			{"event store", func(ctx context.Context, good bool) error {
				cfg, err := esdb.ParseConnectionString(login(c.EventStoreURL(), good))
				if err != nil {
					return err
				}
				cfg.Logger = esdb.NoopLogging()
				client, err := esdb.NewClient(cfg)
				if err != nil {
					return err
				}
				defer client.Close()
				rs, err := client.ReadAll(ctx, esdb.ReadAllOptions{}, 1)
				if err == nil {
					_, err = rs.Recv()
					rs.Close()
				}
				if errors.Is(err, io.EOF) {
					err = nil
				}
				return err
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.check(ctx, true); err != nil {
					t.Fatalf("the cluster's login: %v", err)
				}
				if err := tt.check(ctx, false); err == nil {
					t.Fatal("a wrong password was let in")
				}
			})
		}
		// FerretDB v1 passes the login through to PostgreSQL: without one
		// it has no connection to give.
		client, err := mongo.Connect(ctx, options.Client().ApplyURI(anonymous(c.MongoURI())).SetServerSelectionTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Disconnect(ctx)
		if _, err := client.Database("accounts").ListCollectionNames(ctx, map[string]any{}); err == nil {
			t.Fatal("FerretDB served a client that did not sign in")
		}
	})

	username := "ada" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	var token string
	t.Run("a user registered through the proxy is served by every replica", func(t *testing.T) {
		post(t, ctx, c.ProxyURL()+"/v1/users", `{"username":"`+username+`","password":"correct7horse"}`, http.StatusCreated, nil)
		var session struct {
			Token string `json:"token"`
		}
		// Registration and sign-in may land on different replicas: the
		// second learns of the account from the log, a moment later.
		eventually(t, ctx, func() error {
			return postOnce(ctx, c.ProxyURL()+"/v1/sessions", `{"username":"`+username+`","password":"correct7horse"}`, http.StatusCreated, &session)
		})
		token = session.Token
		// The proxy takes turns: two requests reach both replicas.
		seen := map[string]bool{}
		for range 2 * c.Replicas() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.ProxyURL()+"/healthz", nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			seen[res.Header.Get(devcluster.ReplicaHeader)] = true
		}
		if len(seen) != c.Replicas() || !seen["replica-0"] || !seen["replica-1"] {
			t.Fatalf("the proxy sent requests to %v", seen)
		}
		for i := range c.Replicas() {
			eventually(t, ctx, func() error { return me(ctx, c.ReplicaURL(i), token, username) })
		}
	})

	t.Run("the service answers with a NATS node killed", func(t *testing.T) {
		if token == "" {
			t.Skip("no session")
		}
		node := c.NATS(0)
		if err := node.Kill(); err != nil {
			t.Fatal(err)
		}
		if node.Running() {
			t.Fatal("killed NATS node still running")
		}
		for i := range c.Replicas() {
			eventually(t, ctx, func() error { return me(ctx, c.ReplicaURL(i), token, username) })
		}
		eventually(t, ctx, func() error { return me(ctx, c.ProxyURL(), token, username) })
		if err := node.Start(ctx); err != nil {
			t.Fatalf("NATS node back: %v", err)
		}
	})
	t.Logf("scenario done %s after the start", time.Since(started).Round(time.Millisecond))

	dir := c.Dir()
	children = descendants(t, os.Getpid())
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, p := range children {
		if p.Alive() {
			t.Errorf("process %d (%s) outlived the cluster", p.PID, p.Cmd)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s left behind: %v", dir, err)
	}
}

// login is raw with its password replaced by a wrong one unless good
// (every URL of a comma-separated list).
func login(raw string, good bool) string {
	if good {
		return raw
	}
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, _ := url.Parse(p)
		u.User = url.UserPassword(u.User.Username(), "wrong-password")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

func anonymous(raw string) string {
	u, _ := url.Parse(raw)
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// eventually retries f until it succeeds or ctx ends.
func eventually(t testing.TB, ctx context.Context, f func() error) {
	t.Helper()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func postOnce(ctx context.Context, url, body string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: %s %s", url, res.Status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func post(t testing.TB, ctx context.Context, url, body string, want int, out any) {
	t.Helper()
	if err := postOnce(ctx, url, body, want, out); err != nil {
		t.Fatal(err)
	}
}

// me reads /v1/me from base and checks it is username's.
func me(ctx context.Context, base, token, username string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/me", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/v1/me: %s %s", base, res.Status, raw)
	}
	var got struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || got.Username != username {
		return fmt.Errorf("GET %s/v1/me: %s", base, raw)
	}
	return nil
}

// descendants are the processes below pid.
func descendants(t *testing.T, pid int) []proctree.Proc {
	t.Helper()
	out, err := proctree.Descendants(pid)
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	return out
}
