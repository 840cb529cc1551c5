package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

func inDays(d int) string {
	return time.Now().Add(time.Duration(d) * 24 * time.Hour).UTC().Format(time.RFC3339)
}

// newToken creates a token with the given scopes and returns a client that
// uses it, and the creation's answer.
func newToken(t testing.TB, owner *client, scopes ...string) (*client, map[string]any) {
	t.Helper()
	created := owner.expect(http.StatusCreated, owner.do("POST", "/v1/me/tokens", map[string]any{
		"title": "ci " + strings.Join(scopes, ","), "scopes": scopes, "expires_at": inDays(30),
	})).json(t)
	return &client{t: t, base: owner.base, token: created["token"].(string)}, created
}

func signIn(t testing.TB, srv *httptest.Server, username, password string, headers ...string) *client {
	t.Helper()
	anon := &client{t: t, base: srv.URL}
	s := anon.expect(http.StatusCreated, anon.do("POST", "/v1/sessions", map[string]any{"username": username, "password": password}, headers...)).json(t)
	return &client{t: t, base: srv.URL, token: s["token"].(string)}
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{SignInLimits: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour},
		PerDevice: commands.Rate{Burst: 2, Every: time.Hour}}}, "")
	me := signUp(t, srv, "hopper", nil)
	other := signIn(t, srv, "hopper", "correct7horse")
	pat, _ := newToken(t, me, "profile:read", "tokens:write")

	// Every rule of the new password at once, in the user's language too.
	r := me.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "my-hopper-1", "confirm_password": "other"})
	if _, codes := r.problem(t); r.status != 422 || !slices.Equal(codes, []string{"new_password:password.contains_username", "confirm_password:password.confirm_mismatch"}) {
		t.Fatalf("%d %v", r.status, codes)
	}
	me.lang = "tr"
	r = me.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "correct7horse", "confirm_password": "correct7horse"})
	if _, codes := r.problem(t); r.status != 422 || !slices.Equal(codes, []string{"new_password:password.same_as_current"}) || r.header.Get("Content-Language") != "tr" {
		t.Fatalf("%d %v %s", r.status, codes, r.body)
	}
	me.lang = ""
	r = me.do("PUT", "/v1/me/password", map[string]any{"current_password": "", "new_password": "ab1", "confirm_password": "ab1"})
	if _, codes := r.problem(t); r.status != 422 || !slices.Equal(codes, []string{"current_password:request.required", "new_password:password.too_short"}) {
		t.Fatalf("%d %v", r.status, codes)
	}
	// A wrong current password is 403 on that field, and is throttled
	// like a sign-in.
	r = me.do("PUT", "/v1/me/password", map[string]any{"current_password": "wrong7horse", "new_password": "battery9staple", "confirm_password": "battery9staple"})
	if kind, codes := r.problem(t); r.status != 403 || kind != "/problems/wrong_password" || !slices.Equal(codes, []string{"current_password:password.wrong"}) {
		t.Fatalf("%d %s %v", r.status, kind, codes)
	}
	// A token can never change the password.
	if r := pat.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "battery9staple", "confirm_password": "battery9staple"}); r.status != 403 {
		t.Fatalf("token changed the password: %d", r.status)
	}
	me.expect(http.StatusNoContent, me.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "battery9staple", "confirm_password": "battery9staple"}))
	anon := &client{t: t, base: srv.URL}
	anon.expect(http.StatusUnauthorized, anon.do("POST", "/v1/sessions", map[string]any{"username": "hopper", "password": "correct7horse"}))
	signIn(t, srv, "hopper", "battery9staple")
	me.expect(http.StatusOK, me.do("GET", "/v1/me", nil))                 // the current session stays
	other.expect(http.StatusUnauthorized, other.do("GET", "/v1/me", nil)) // every other one ends
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me", nil))               // tokens stay valid
	// A session's wrong current passwords count against that session, as a
	// known device's would, not against the account's sign-in buckets (so
	// a guessing storm on the sign-in cannot stop the owner changing the
	// password): its second fills its limit, the next is throttled; the
	// sign-in failures (the old password and two guesses) fill theirs.
	anon.expect(http.StatusUnauthorized, anon.do("POST", "/v1/sessions", map[string]any{"username": "hopper", "password": "guess1x"}))
	r = me.do("PUT", "/v1/me/password", map[string]any{"current_password": "wrong7horse", "new_password": "battery9staplex", "confirm_password": "battery9staplex"})
	if r.status != 403 {
		t.Fatalf("second wrong current password: %d %s", r.status, r.body)
	}
	r = me.do("PUT", "/v1/me/password", map[string]any{"current_password": "wrong7horse", "new_password": "battery9staplex", "confirm_password": "battery9staplex"})
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("throttled change: %d %v", r.status, r.header)
	}
	anon.expect(http.StatusUnauthorized, anon.do("POST", "/v1/sessions", map[string]any{"username": "hopper", "password": "guess2x"}))
	if r := anon.do("POST", "/v1/sessions", map[string]any{"username": "hopper", "password": "guess3x"}); r.status != 429 {
		t.Fatalf("fourth failed sign-in: %d", r.status)
	}
}

func TestSessionsList(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "grace", map[string]any{"preferred_timezone": "Asia/Tokyo"})
	phone := signIn(t, srv, "grace", "correct7horse", "User-Agent", "Phone/1.0")
	stranger := signUp(t, srv, "linus", nil)
	list := me.expect(http.StatusOK, me.do("GET", "/v1/me/sessions", nil)).json(t)["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions %v", list)
	}
	var phoneID string
	for _, s := range list {
		m := s.(map[string]any)
		if m["user_agent"] == "Phone/1.0" {
			phoneID = m["id"].(string)
			if m["current"] != false || m["client_ip"] != "127.0.0.1" || !strings.HasSuffix(m["created_at"].(string), "+09:00") || m["last_seen_at"] == "" {
				t.Fatalf("phone session %v", m)
			}
		} else if m["current"] != true {
			t.Fatalf("current session %v", m)
		}
	}
	// A token with sessions:read lists; ending sessions is for sessions only.
	reader, _ := newToken(t, me, "sessions:read")
	reader.expect(http.StatusOK, reader.do("GET", "/v1/me/sessions", nil))
	reader.expect(http.StatusForbidden, reader.do("DELETE", "/v1/me/sessions/"+phoneID, nil))
	reader.expect(http.StatusForbidden, reader.do("DELETE", "/v1/me/sessions", nil))
	noScope, _ := newToken(t, me, "profile:read")
	r := noScope.do("GET", "/v1/me/sessions", nil)
	if kind, _ := r.problem(t); r.status != 403 || kind != "/problems/insufficient_scope" || !strings.Contains(string(r.body), "sessions:read") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// Another user's session is not found; one's own ends at once.
	stranger.expect(http.StatusNotFound, stranger.do("DELETE", "/v1/me/sessions/"+phoneID, nil))
	phone.expect(http.StatusOK, phone.do("GET", "/v1/me", nil))
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/me/sessions/"+phoneID, nil))
	phone.expect(http.StatusUnauthorized, phone.do("GET", "/v1/me", nil))
	laptop := signIn(t, srv, "grace", "correct7horse")
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/me/sessions", nil))
	laptop.expect(http.StatusUnauthorized, laptop.do("GET", "/v1/me", nil))
	if list := me.expect(http.StatusOK, me.do("GET", "/v1/me/sessions", nil)).json(t)["sessions"].([]any); len(list) != 1 {
		t.Fatalf("after ending the others: %v", list)
	}
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{Scopes: map[string]string{"projects:read": "Read your projects"}}, "")
	me := signUp(t, srv, "ada", map[string]any{"preferred_language": "tr"})
	anon := &client{t: t, base: srv.URL}

	created := me.expect(http.StatusCreated, me.do("POST", "/v1/me/tokens", map[string]any{
		"title": "deploy", "scopes": []string{"profile:read", "projects:read", "tokens:write"}, "expires_at": inDays(30),
	}))
	tok := created.json(t)
	secret := tok["token"].(string)
	id := tok["id"].(string)
	if !strings.HasPrefix(secret, "acp_") || len(secret) != 42 || tok["token_prefix"] != secret[:12] || tok["enabled"] != true || tok["last_used_at"] != nil {
		t.Fatalf("created %v", tok)
	}
	if created.header.Get("Cache-Control") != "no-store" {
		t.Fatal("a token answer may be cached")
	}
	pat := &client{t: t, base: srv.URL, token: secret}
	who := pat.expect(http.StatusOK, pat.do("GET", "/v1/auth/whoami", nil))
	if w := who.json(t); w["username"] != "ada" || w["credential"].(map[string]any)["kind"] != "token" || w["credential"].(map[string]any)["id"] != id {
		t.Fatalf("whoami %v", w)
	}
	if exp, err := time.Parse(time.RFC3339, who.header.Get("Accountd-Token-Expires")); err != nil || time.Until(exp) < 29*24*time.Hour {
		t.Fatalf("Accountd-Token-Expires %q", who.header.Get("Accountd-Token-Expires"))
	}
	// Shown once: the list and the detail show the prefix only; the use is there.
	listed := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens", nil))
	if strings.Contains(string(listed.body), secret) {
		t.Fatal("the list shows the full token")
	}
	one := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+id, nil)).json(t)
	if one["last_used_ip"] != "127.0.0.1" || one["token"] != nil {
		t.Fatalf("detail %v", one)
	}
	details := map[string]string{}
	for _, d := range one["scope_details"].([]any) {
		m := d.(map[string]any)
		details[m["scope"].(string)] = m["description"].(string)
	}
	if details["profile:read"] != "Profilinizi okumak." || details["projects:read"] != "Read your projects" || len(details) != 3 {
		t.Fatalf("scope details %v", details)
	}
	// Disabled and enabled again, limited to addresses, on the next request.
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me/tokens/"+id, map[string]any{"enabled": false}))
	pat.expect(http.StatusUnauthorized, pat.do("GET", "/v1/me", nil))
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me/tokens/"+id, map[string]any{"enabled": true, "allowed_ips": []string{"127.0.0.2"}, "title": "deploy bot"}))
	if r := pat.do("GET", "/v1/me", nil); r.status != 403 {
		t.Fatalf("outside allowed_ips: %d", r.status)
	}
	from2 := &client{t: t, base: srv.URL, token: secret, from: "127.0.0.2"}
	from2.expect(http.StatusOK, from2.do("GET", "/v1/me", nil))
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me/tokens/"+id, map[string]any{"allowed_ips": nil}))
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me", nil))
	// Scopes: what the token holds, through :write too, and no more.
	pat.expect(http.StatusForbidden, pat.do("PATCH", "/v1/me", map[string]any{"full_name": "A"}))
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me/tokens", nil)) // tokens:read through tokens:write
	r := pat.do("POST", "/v1/me/tokens", map[string]any{"title": "more", "scopes": []string{"profile:write"}, "expires_at": inDays(1)})
	if r.status != 403 || !strings.Contains(string(r.body), "profile:write") {
		t.Fatalf("a token granted more than it holds: %d %s", r.status, r.body)
	}
	child := pat.expect(http.StatusCreated, pat.do("POST", "/v1/me/tokens", map[string]any{"title": "less", "scopes": []string{"profile:read"}, "expires_at": inDays(1)})).json(t)
	if child["scopes"].([]any)[0] != "profile:read" {
		t.Fatalf("child %v", child)
	}

	// Rotation: same id and settings, a new secret; the old one stops
	// working, and presenting it again revokes the new one.
	rotated := me.expect(http.StatusOK, me.do("POST", "/v1/me/tokens/"+id+"/rotate", nil)).json(t)
	newSecret := rotated["token"].(string)
	if rotated["id"] != id || rotated["title"] != "deploy bot" || newSecret == secret || len(rotated["scopes"].([]any)) != 3 {
		t.Fatalf("rotated %v", rotated)
	}
	fresh := &client{t: t, base: srv.URL, token: newSecret}
	fresh.expect(http.StatusOK, fresh.do("GET", "/v1/me", nil))
	pat.expect(http.StatusUnauthorized, pat.do("GET", "/v1/me", nil)) // reuse
	fresh.expect(http.StatusUnauthorized, fresh.do("GET", "/v1/me", nil))
	if got := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+id, nil)).json(t); got["revoked"] != true {
		t.Fatalf("after reuse %v", got)
	}

	// A token rotates itself, with a new expiry, never past the maximum
	// nor its own expiry (see TestATokenCannotLiftItsOwnLimits).
	auto, autoTok := newToken(t, me, "tokens:write")
	auto.expect(http.StatusUnprocessableEntity, auto.do("POST", "/v1/me/tokens/self/rotate", map[string]any{"expires_at": inDays(400)}))
	auto.expect(http.StatusForbidden, auto.do("POST", "/v1/me/tokens/self/rotate", map[string]any{"expires_at": inDays(60)}))
	renewed := auto.expect(http.StatusOK, auto.do("POST", "/v1/me/tokens/self/rotate", map[string]any{"expires_at": inDays(20)})).json(t)
	if renewed["id"] != autoTok["id"] || !strings.HasPrefix(renewed["expires_at"].(string), inDays(20)[:10]) {
		t.Fatalf("self-rotated %v", renewed)
	}
	me.expect(http.StatusNotFound, me.do("POST", "/v1/me/tokens/self/rotate", nil)) // a session is no token

	// Reported publicly: revoked, still listed; unknown and garbage: 202 too.
	leaked, leakedTok := newToken(t, me, "profile:read")
	for _, body := range []any{map[string]any{"tokens": []string{leaked.token, "acp_nonsense", "hello"}}, map[string]any{"tokens": []string{}}} {
		anon.expect(http.StatusAccepted, anon.do("POST", "/v1/tokens/revoke", body))
	}
	leaked.expect(http.StatusUnauthorized, leaked.do("GET", "/v1/me", nil))
	if got := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+leakedTok["id"].(string), nil)).json(t); got["revoked"] != true {
		t.Fatalf("reported %v", got)
	}
	// Deleted: gone from the list; all at once.
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/me/tokens/"+leakedTok["id"].(string), nil))
	me.expect(http.StatusNotFound, me.do("GET", "/v1/me/tokens/"+leakedTok["id"].(string), nil))
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/me/tokens", nil))
	if got := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens", nil)).json(t)["tokens"].([]any); len(got) != 0 {
		t.Fatalf("after deleting all: %v", got)
	}
	auto.expect(http.StatusUnauthorized, auto.do("GET", "/v1/auth/whoami", nil))
}

func TestTokenRules(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "turing", nil)
	stranger := signUp(t, srv, "church", nil)
	_, theirs := newToken(t, stranger, "profile:read")
	anon := &client{t: t, base: srv.URL}
	tests := []struct {
		name  string
		body  any
		codes []string
	}{
		{"nothing", map[string]any{}, []string{"title:request.required", "scopes:scopes.required", "expires_at:request.required"}},
		{"long title, unknown scope, past expiry", map[string]any{"title": strings.Repeat("t", 101), "scopes": []string{"root"}, "expires_at": "2020-01-01T00:00:00Z"},
			[]string{"title:title.too_long", "scopes:scopes.unknown", "expires_at:expires_at.past"}},
		{"too far", map[string]any{"title": "x", "scopes": []string{"profile:read"}, "expires_at": inDays(367)}, []string{"expires_at:expires_at.too_far"}},
		{"not a time", map[string]any{"title": "x", "scopes": []string{"profile:read"}, "expires_at": "tomorrow"}, []string{"expires_at:expires_at.invalid"}},
		{"bad address", map[string]any{"title": "x", "scopes": []string{"profile:read"}, "expires_at": inDays(1), "allowed_ips": []string{"10.0.0.0/33"}}, []string{"allowed_ips:allowed_ips.invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			me.t = t
			r := me.do("POST", "/v1/me/tokens", tt.body)
			if _, codes := r.problem(t); r.status != 422 || !slices.Equal(codes, tt.codes) {
				t.Fatalf("%d %v, want %v", r.status, codes, tt.codes)
			}
		})
	}
	me.t = t
	// Another user's token id is 404, whatever the method.
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		me.expect(http.StatusNotFound, me.do(m, "/v1/me/tokens/"+theirs["id"].(string), map[string]any{"title": "mine"}))
	}
	me.expect(http.StatusNotFound, me.do("POST", "/v1/me/tokens/"+theirs["id"].(string)+"/rotate", nil))
	// Signed out, a wrong checksum, an expired token: 401.
	anon.expect(http.StatusUnauthorized, anon.do("GET", "/v1/me/tokens", nil))
	tok, _ := newToken(t, me, "profile:read")
	typo := []byte(tok.token)
	typo[20] ^= 1
	(&client{t: t, base: srv.URL, token: string(typo)}).expect(http.StatusUnauthorized, anon.do("GET", "/v1/me", nil))
	short := me.expect(http.StatusCreated, me.do("POST", "/v1/me/tokens", map[string]any{"title": "brief", "scopes": []string{"profile:read"},
		"expires_at": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)})).json(t)
	brief := &client{t: t, base: srv.URL, token: short["token"].(string)}
	time.Sleep(time.Until(time.Now().Add(1600 * time.Millisecond)))
	brief.expect(http.StatusUnauthorized, brief.do("GET", "/v1/me", nil))
	if got := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+short["id"].(string), nil)).json(t); got["expired"] != true {
		t.Fatalf("expired token %v", got)
	}
}

// At most 100 live tokens per user, also when created all at once.
func TestTokenLimitUnderConcurrentCreates(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "lovelace", nil)
	const n = 110
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, base: srv.URL, token: me.token}
			statuses[i] = c.do("POST", "/v1/me/tokens", map[string]any{"title": fmt.Sprint("t", i), "scopes": []string{"profile:read"}, "expires_at": inDays(1)}).status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[201] != 100 || counts[422] != 10 {
		t.Fatalf("statuses %v", counts)
	}
}

// A change of a token is in force on the very next request: 1,000 times
// in a row, disabled then enabled.
func TestTokenChangesApplyOnTheNextRequest(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "knuth", nil)
	pat, tok := newToken(t, me, "profile:read")
	path := "/v1/me/tokens/" + tok["id"].(string)
	for i := range 1000 {
		me.expect(http.StatusOK, me.do("PATCH", path, map[string]any{"enabled": false}))
		if r := pat.do("GET", "/v1/auth/whoami", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("round %d: a disabled token got %d", i, r.status)
		}
		me.expect(http.StatusOK, me.do("PATCH", path, map[string]any{"enabled": true}))
		if r := pat.do("GET", "/v1/auth/whoami", nil); r.status != http.StatusOK {
			t.Fatalf("round %d: an enabled token got %d", i, r.status)
		}
	}
	me.expect(http.StatusNoContent, me.do("DELETE", path, nil))
	pat.expect(http.StatusUnauthorized, pat.do("GET", "/v1/auth/whoami", nil))
}

func TestIntrospection(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{IntrospectionClients: map[string]string{"projects": "projects-service-secret"}}, "")
	me := signUp(t, srv, "dijkstra", nil)
	pat, tok := newToken(t, me, "profile:read", "tokens:read")
	introspect := func(user, pass, token string) response {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/tokens/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body strings.Builder
		_, _ = fmt.Fprint(&body, readAll(res))
		return response{status: res.StatusCode, header: res.Header, body: []byte(body.String())}
	}
	if r := introspect("", "", pat.token); r.status != 401 {
		t.Fatalf("no client: %d", r.status)
	}
	if r := introspect("projects", "wrong", pat.token); r.status != 401 {
		t.Fatalf("wrong secret: %d", r.status)
	}
	got := introspect("projects", "projects-service-secret", pat.token).json(t)
	if got["active"] != true || got["scope"] != "profile:read tokens:read" || got["username"] != "dijkstra" || got["client_id"] != tok["id"] ||
		got["token_type"] != "access_token" || got["exp"].(float64) < float64(time.Now().Unix()) || got["iat"].(float64) > float64(time.Now().Unix()) {
		t.Fatalf("active token %v", got)
	}
	for name, token := range map[string]string{"session token": me.token, "unknown": "acp_" + strings.Repeat("A", 38), "garbage": "x"} {
		if got := introspect("projects", "projects-service-secret", token).json(t); len(got) != 1 || got["active"] != false {
			t.Errorf("%s: %v", name, got)
		}
	}
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me/tokens/"+tok["id"].(string), map[string]any{"enabled": false}))
	if got := introspect("projects", "projects-service-secret", pat.token).json(t); got["active"] != false {
		t.Fatalf("disabled token %v", got)
	}
}

func readAll(res *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
