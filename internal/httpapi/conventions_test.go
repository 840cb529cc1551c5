package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

func TestHTTPConventions(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "grace", nil)
	anon := &client{t: t, base: srv.URL}

	t.Run("405 says what is allowed", func(t *testing.T) {
		for path, want := range map[string]string{"/v1/users": "POST", "/v1/me": "GET, HEAD, PATCH, DELETE", "/v1/profiles/grace": "GET, HEAD"} {
			r := anon.do("PUT", path, nil)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != want {
				t.Errorf("PUT %s: %d Allow %q, want %q", path, r.status, r.header.Get("Allow"), want)
			}
		}
	})
	t.Run("HEAD wherever GET", func(t *testing.T) {
		get := me.do("GET", "/v1/me", nil)
		head := me.do("HEAD", "/v1/me", nil)
		if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("ETag") != get.header.Get("ETag") {
			t.Fatalf("HEAD /v1/me: %d %q %v", head.status, head.body, head.header)
		}
		for path, want := range map[string]int{"/healthz": 200, "/v1/openapi.json": 200, "/v1/profiles/grace": 200, "/v1/profiles/nobody": 404} {
			if r := me.do("HEAD", path, nil); r.status != want || len(r.body) != 0 {
				t.Errorf("HEAD %s: %d, %d bytes", path, r.status, len(r.body))
			}
		}
	})
	t.Run("every response has a request id", func(t *testing.T) {
		for _, r := range []response{anon.do("GET", "/v1/nothing", nil), me.do("GET", "/v1/me", nil), anon.do("DELETE", "/v1/me", nil), anon.do("POST", "/v1/users", `{`)} {
			if id := r.header.Get("X-Request-Id"); len(id) < 8 {
				t.Errorf("%d response without a request id: %v", r.status, r.header)
			}
		}
		if got := anon.do("GET", "/healthz", nil, "X-Request-Id", "trace-42.a:b").header.Get("X-Request-Id"); got != "trace-42.a:b" {
			t.Errorf("a valid incoming id was replaced by %q", got)
		}
		if got := anon.do("GET", "/healthz", nil, "X-Request-Id", "bad id <script>").header.Get("X-Request-Id"); strings.Contains(got, "script") {
			t.Errorf("an invalid incoming id was kept: %q", got)
		}
	})
	t.Run("personal data is not cached", func(t *testing.T) {
		for what, tt := range map[string]struct {
			r    response
			want string
		}{
			"read":    {me.do("GET", "/v1/me", nil), "private, no-cache"},
			"write":   {me.do("PATCH", "/v1/me", map[string]any{"full_name": "G"}), "no-store"},
			"rename":  {me.do("PUT", "/v1/me/username", map[string]any{"username": "grace"}), "no-store"},
			"problem": {me.do("PATCH", "/v1/me", map[string]any{"email": "x"}), "no-store"},
			"sign-in": {anon.do("POST", "/v1/sessions", map[string]any{"username": "grace", "password": "correct7horse"}), "no-store"},
		} {
			if got := tt.r.header.Get("Cache-Control"); got != tt.want {
				t.Errorf("%s: Cache-Control %q, want %q", what, got, tt.want)
			}
		}
	})
	t.Run("problem types resolve", func(t *testing.T) {
		r := me.do("PATCH", "/v1/me", map[string]any{"email": "x"})
		var p struct{ Type, Title string }
		_ = json.Unmarshal(r.body, &p)
		page := anon.do("GET", p.Type, nil)
		if page.status != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), p.Title) {
			t.Fatalf("GET %s: %d %s", p.Type, page.status, page.body)
		}
		anon.expect(http.StatusNotFound, anon.do("GET", "/problems/no_such_problem", nil))
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// One JSON line per request, with route templates and no secret.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	_, srv := testenv.App(t, app.Config{AccessLog: slog.New(slog.NewJSONHandler(&buf, nil))}, "")
	me := signUp(t, srv, "hopper", nil)
	me.expect(http.StatusOK, me.do("GET", "/v1/profiles/hopper?token="+me.token, nil))
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"full_name": "Grace Hopper"}))
	(&client{t: t, base: srv.URL}).do("POST", "/v1/sessions", map[string]any{"username": "hopper", "password": "wrong7horse"})
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/sessions/current", nil))
	const requests = 6 // register, sign in, profile, patch, failed sign-in, sign out
	log := buf.String()
	sc := bufio.NewScanner(strings.NewReader(log))
	var lines []map[string]any
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		lines = append(lines, line)
	}
	if len(lines) != requests {
		t.Fatalf("%d lines for %d requests:\n%s", len(lines), requests, log)
	}
	routes := []string{}
	for _, l := range lines {
		for _, k := range []string{"request_id", "method", "route", "status", "duration_ms", "bytes", "client", "user_id"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line without %s: %v", k, l)
			}
		}
		routes = append(routes, l["route"].(string))
	}
	if routes[2] != "/v1/profiles/{username}" || lines[3]["user_id"] == "" || lines[0]["status"] != float64(201) {
		t.Fatalf("lines %v", lines)
	}
	for _, secret := range []string{me.token, "correct7horse", "wrong7horse", "hopper?", "Bearer"} {
		if strings.Contains(log, secret) {
			t.Errorf("the access log contains %q", secret)
		}
	}
}
