package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/keyring"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

func newSecretKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

// externalOf is the configuration of a second replica on the servers of
// one started by testenv.App in dir: every server external, by URL.
func externalOf(t *testing.T, a *app.App, dir string) platform.Config {
	t.Helper()
	creds, err := keyring.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := platform.MongoSocket(dir)
	if err != nil {
		t.Fatal(err)
	}
	natsURL, _ := url.Parse(a.Platform.NATSURL)
	natsURL.User = url.UserPassword(creds.NATS.Username, creds.NATS.Password)
	return platform.Config{
		EventStoreURL: a.Platform.EventStore.URLFor(creds.EventStore.Username, creds.EventStore.Password),
		NATSURL:       natsURL.String(),
		MongoURI:      "mongodb://" + url.PathEscape(sock) + "/?directConnection=true",
	}
}

// lowerCaseDir is a temporary directory whose path has no capitals: the
// MongoDB driver lower-cases the host, and the socket path is the host.
func lowerCaseDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "replicas")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if dir != strings.ToLower(dir) {
		t.Skipf("the temporary directory %s has capitals", dir)
	}
	return dir
}

// startReplica starts another replica on the servers of a (started by
// testenv.App in dir) with cfg.
func startReplica(t *testing.T, a *app.App, dir string, cfg app.Config) (*app.App, error) {
	t.Helper()
	cfg.Platform = externalOf(t, a, dir)
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.MetricsListen = "off"
	if cfg.PasswordParams == (testenv.CheapHashing) || cfg.PasswordParams.MemoryKiB == 0 {
		cfg.PasswordParams = testenv.CheapHashing
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b, err := app.Start(ctx, cfg)
	if err == nil {
		t.Cleanup(b.Close)
	}
	return b, err
}

// A replica whose secret key is not the one the data keys were written
// with refuses to start, before any projector runs: nothing is parked,
// nothing it could not open is served. One without a key on external
// servers is refused too: it would generate its own.
func TestReplicaWithAnotherSecretKeyRefusesToStart(t *testing.T) {
	t.Parallel()
	dir := lowerCaseDir(t)
	key := newSecretKey(t)
	a, _ := testenv.App(t, app.Config{SecretKey: key}, dir)
	email := "ada@example.com"
	if _, err := a.Commands.RegisterUser(t.Context(), commands.RegisterUser{Username: "ada", Password: "correct7horse",
		Profile: commands.ProfileChange{"email": email}}, meta()); err != nil {
		t.Fatal(err)
	}
	parked := func() int64 {
		n, err := a.Platform.DB.Collection(projections.ParkedCollection).CountDocuments(t.Context(), bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := parked()

	tests := []struct {
		name, key, want string
	}{
		{"another key", newSecretKey(t), "cannot open the existing data keys"},
		{"no key", "", "secret key must be given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startReplica(t, a, dir, app.Config{SecretKey: tt.key})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("started: %v, want one line saying %q", err, tt.want)
			}
		})
	}
	t.Run("the same key", func(t *testing.T) {
		if _, err := startReplica(t, a, dir, app.Config{SecretKey: key}); err != nil {
			t.Fatal(err)
		}
	})
	time.Sleep(500 * time.Millisecond) // a projector of a refused replica would have parked by now
	if after := parked(); after != before {
		t.Fatalf("%d events parked, were %d", after, before)
	}
}

// settingsReady reads a replica's /readyz: its status and the replica-settings
// check.
func settingsReady(t *testing.T, base string) (int, app.ComponentStatus) {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rep app.Report
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Components {
		if c.Name == "replica-settings" {
			return res.StatusCode, c
		}
	}
	t.Fatalf("/readyz has no replica-settings check: %+v", rep)
	return 0, app.ComponentStatus{}
}

// Replicas publish a fingerprint of the settings that must agree; one
// whose settings differ from the replica started after it is not ready and
// says which setting and which replica.
func TestReplicaWithOtherSettingsIsNotReady(t *testing.T) {
	t.Parallel()
	dir := lowerCaseDir(t)
	key := newSecretKey(t)
	a, srvA := testenv.App(t, app.Config{SecretKey: key, ReplicaID: "replica-a"}, dir)

	b, err := startReplica(t, a, dir, app.Config{SecretKey: key, ReplicaID: "replica-b"})
	if err != nil {
		t.Fatal(err)
	}
	srvB := httptest.NewServer(b.Handler)
	defer srvB.Close()
	for name, base := range map[string]string{"a": srvA.URL, "b": srvB.URL} {
		eventually(t, "replica "+name+" agrees", func() bool {
			code, c := settingsReady(t, base)
			return code == http.StatusOK && c.OK
		})
	}

	c, err := startReplica(t, a, dir, app.Config{SecretKey: key, ReplicaID: "replica-c",
		Scopes: map[string]string{"projects:read": "Read your projects"}, Admins: []string{"margaret"}})
	if err != nil {
		t.Fatal(err)
	}
	srvC := httptest.NewServer(c.Handler)
	defer srvC.Close()
	for name, base := range map[string]string{"a": srvA.URL, "b": srvB.URL} {
		eventually(t, "replica "+name+" is not ready", func() bool {
			code, c := settingsReady(t, base)
			return code == http.StatusServiceUnavailable && !c.OK &&
				strings.Contains(c.LastError, "replica-c") && strings.Contains(c.LastError, "scopes") && strings.Contains(c.LastError, "admins") &&
				!strings.Contains(c.LastError, "secret_key")
		})
	}
	if _, st := settingsReady(t, srvC.URL); !st.OK {
		t.Fatalf("the newest replica's settings check: %+v", st)
	}

	// The replica with the other settings goes: the others agree again.
	srvC.Close()
	c.Close()
	for name, base := range map[string]string{"a": srvA.URL, "b": srvB.URL} {
		eventually(t, "replica "+name+" agrees again", func() bool {
			code, c := settingsReady(t, base)
			return code == http.StatusOK && c.OK
		})
	}
}

// A token disabled on one replica is refused by another (within the
// credential index's staleness bound; the p99 is measured by
// BenchmarkRevocationAcrossReplicas), and a data key destroyed on one is
// forgotten by the other.
func TestCredentialsAndKeysAcrossReplicas(t *testing.T) {
	t.Parallel()
	dir := lowerCaseDir(t)
	key := newSecretKey(t)
	a, srvA := testenv.App(t, app.Config{SecretKey: key}, dir)
	b, err := startReplica(t, a, dir, app.Config{SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srvB := httptest.NewServer(b.Handler)
	defer srvB.Close()

	call(t, srvA.URL, "POST", "/v1/users", "", map[string]any{"username": "ada", "password": "correct7horse"}, http.StatusCreated)
	session := call(t, srvA.URL, "POST", "/v1/sessions", "", map[string]any{"username": "ada", "password": "correct7horse"}, http.StatusCreated)["token"].(string)
	pat := call(t, srvA.URL, "POST", "/v1/me/tokens", session, map[string]any{"title": "ci", "scopes": []string{"profile:read"},
		"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, http.StatusCreated)
	token, id := pat["token"].(string), pat["id"].(string)
	status := func(base, tok string) int {
		req, _ := http.NewRequest("GET", base+"/v1/auth/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	eventually(t, "the token works on B", func() bool { return status(srvB.URL, token) == http.StatusOK })
	call(t, srvA.URL, "PATCH", "/v1/me/tokens/"+id, session, map[string]any{"enabled": false}, http.StatusOK)
	eventually(t, "B refuses the disabled token", func() bool { return status(srvB.URL, token) == http.StatusUnauthorized })

	sealed, err := a.Keys.Seal(t.Context(), "owner-1", "field", "personal")
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := b.Keys.Open(t.Context(), "owner-1", "field", sealed); err != nil || plain != "personal" {
		t.Fatalf("B opens %q, %v", plain, err)
	}
	if err := a.Keys.Destroy(t.Context(), "owner-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B forgets the destroyed key", func() bool {
		_, err := b.Keys.Open(t.Context(), "owner-1", "field", sealed)
		return errors.Is(err, keystore.ErrErased)
	})
}

// BenchmarkRevocationAcrossReplicas: how long after a token is disabled on
// replica A replica B refuses it, over 100 revocations (p50, p99).
//
//	go test -run X -bench RevocationAcrossReplicas -benchtime 1x ./internal/app
func BenchmarkRevocationAcrossReplicas(b *testing.B) {
	dir, err := os.MkdirTemp("", "replicas")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	key := func() string {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		return base64.StdEncoding.EncodeToString(raw)
	}()
	a, srvA := testenv.App(b, app.Config{SecretKey: key}, dir)
	creds, _ := keyring.Load(dir)
	sock, _ := platform.MongoSocket(dir)
	natsURL, _ := url.Parse(a.Platform.NATSURL)
	natsURL.User = url.UserPassword(creds.NATS.Username, creds.NATS.Password)
	rb, err := app.Start(b.Context(), app.Config{SecretKey: key, HTTPListen: "127.0.0.1:0", MetricsListen: "off", PasswordParams: testenv.CheapHashing,
		Platform: platform.Config{EventStoreURL: a.Platform.EventStore.URLFor(creds.EventStore.Username, creds.EventStore.Password),
			NATSURL: natsURL.String(), MongoURI: "mongodb://" + url.PathEscape(sock) + "/?directConnection=true"}})
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Close()
	srvB := httptest.NewServer(rb.Handler)
	defer srvB.Close()
	do := func(method, base, path, tok string, body any) map[string]any {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{"status": float64(res.StatusCode)}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out
	}
	do("POST", srvA.URL, "/v1/users", "", map[string]any{"username": "ada", "password": "correct7horse"})
	session := do("POST", srvA.URL, "/v1/sessions", "", map[string]any{"username": "ada", "password": "correct7horse"})["token"].(string)
	var took []time.Duration
	for range 100 {
		pat := do("POST", srvA.URL, "/v1/me/tokens", session, map[string]any{"title": "ci", "scopes": []string{"profile:read"},
			"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
		token, id := pat["token"].(string), pat["id"].(string)
		for do("GET", srvB.URL, "/v1/auth/whoami", token, nil)["status"] != float64(200) {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		do("PATCH", srvA.URL, "/v1/me/tokens/"+id, session, map[string]any{"enabled": false})
		for do("GET", srvB.URL, "/v1/auth/whoami", token, nil)["status"] != float64(401) {
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
		do("DELETE", srvA.URL, "/v1/me/tokens/"+id, session, nil)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
