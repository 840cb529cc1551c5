package app_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/metrics"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

// /metrics has a listener of its own: the public one answers 404 there.
// It shows per projector how many events are parked now.
func TestMetricsListenerOfItsOwn(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{}, "")
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics: %d", res.StatusCode)
	}
	parked := func() map[string]float64 {
		res, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var parser expfmt.TextParser
		families, err := parser.TextToMetricFamilies(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, m := range families[metrics.ProjectorParked].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "projector" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	eventually(t, "every projector's parked events counted", func() bool { return len(parked()) == len(projections.Projectors()) })
	docs := []any{
		bson.M{"_id": "users:e1", "projector": "users", "error": "test"},
		bson.M{"_id": "users:e2", "projector": "users", "error": "test"},
		bson.M{"_id": "audit:e1", "projector": "audit", "error": "test"},
	}
	if _, err := a.Platform.DB.Collection(projections.ParkedCollection).InsertMany(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	eventually(t, "parked events counted", func() bool {
		p := parked()
		return p["users"] == 2 && p["audit"] == 1 && p["sessions"] == 0
	})
	if _, err := a.Platform.DB.Collection(projections.ParkedCollection).DeleteMany(t.Context(), bson.M{"projector": "users"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "retried events no longer counted", func() bool { p := parked(); return p["users"] == 0 && p["audit"] == 1 })
}

func TestMetricsListenerConfig(t *testing.T) {
	tests := []struct {
		name, listen, want string
	}{
		{"not an address", "nowhere", `metrics listen address "nowhere"`},
		{"the HTTP address", "127.0.0.1:8080", "a listener of their own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := app.Start(t.Context(), app.Config{HTTPListen: "127.0.0.1:8080", MetricsListen: tt.listen, AllowedHosts: []string{"a b"}})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `allowed host "a b"`) {
				t.Fatalf("error %v, want %q and the bad host", err, tt.want)
			}
		})
	}
}

// No log line keeps more than 64 characters of anything the client sent:
// not of a method, a path, a request id, a user agent or a query.
func TestLogsKeepLittleOfWhatTheClientSent(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, srv := testenv.App(t, app.Config{Logger: logger, AccessLog: logger.With("log", "access")}, "")
	long := func(c string) string { return strings.Repeat(c, 500) }
	for _, tt := range []struct{ method, path string }{
		{long("M"), "/v1/me"},
		{long("N"), "/settings/profile"},
		{"GET", "/v1/profiles/" + long("p")},
		{"GET", "/" + long("c")},
		{"GET", "/v1/me?q=" + long("q")},
		{"POST", "/v1/sessions"},
		{"POST", "/login"},
	} {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(`{"username":"`+long("b")+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", long("u"))
		req.Header.Set("X-Request-Id", long("r"))
		req.Header.Set("X-Correlation-Id", long("k"))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	out := logs.String()
	if !strings.Contains(out, `"method":"OTHER"`) {
		t.Fatalf("no access line for the odd method:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("not a JSON line: %s", line)
		}
		for _, c := range "MNpcqurkb" {
			if strings.Contains(line, strings.Repeat(string(c), 65)) {
				t.Errorf("a log line keeps more than 64 %q the client sent: %.300s", c, line)
			}
		}
	}
}

// The API and the console answer only for the names they serve: another
// Host (a page that rebound its name to this address) gets 421, but on the
// probes.
func TestHostHeader(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{AllowedHosts: []string{"accounts.example.com"}}, "")
	tests := []struct {
		name, host, path string
		want             int
		contentType      string
	}{
		{"API, another host", "evil.example", "/v1/openapi.json", 421, "application/problem+json"},
		{"API, another host with a port", "evil.example:8080", "/v1/me", 421, "application/problem+json"},
		{"console, another host", "evil.example", "/login", 421, "text/html; charset=utf-8"},
		{"console, a loopback name with a prefix", "localhost.evil.example", "/", 421, "text/html; charset=utf-8"},
		{"liveness, any host", "10.1.2.3:8080", "/healthz", 200, "application/json"},
		{"API, localhost", "localhost", "/v1/openapi.json", 200, "application/json"},
		{"API, localhost with a port, any case", "LocalHost:8080", "/v1/openapi.json", 200, "application/json"},
		{"API, 127.0.0.1", "127.0.0.1:1234", "/v1/openapi.json", 200, "application/json"},
		{"API, [::1]", "[::1]:8080", "/v1/openapi.json", 200, "application/json"},
		{"console, localhost", "localhost:8080", "/login", 200, "text/html; charset=utf-8"},
		{"console, an allowed host", "accounts.example.com", "/login", 200, "text/html; charset=utf-8"},
		{"API, an allowed host with a port and a dot", "Accounts.Example.com.:443", "/v1/openapi.json", 200, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			req.Host = tt.host
			req.Header.Set("Accept-Language", "tr")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want || res.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("%d %s, want %d %s: %.200s", res.StatusCode, res.Header.Get("Content-Type"), tt.want, tt.contentType, body)
			}
			if tt.want == 421 && !strings.Contains(string(body), "Bu hizmet o sunucu adına yanıt vermiyor.") {
				t.Fatalf("421 body: %s", body)
			}
		})
	}
	// /readyz answers any Host too (200 or 503, never 421).
	req, _ := http.NewRequest("GET", srv.URL+"/readyz", nil)
	req.Host = "10.1.2.3"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 421 {
		t.Fatal("/readyz refused a probe by address")
	}
}
