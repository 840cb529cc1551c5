package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/testenv"
)

type client struct {
	t     testing.TB
	base  string
	token string
	lang  string
	from  string // local address to connect from ("": any)
}

// httpClient connects from the given loopback address, so tests can be
// several clients on one machine.
func httpClient(from string) *http.Client {
	if from == "" {
		return http.DefaultClient
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// problem decodes a problem+json body and returns its type and field codes.
func (r response) problem(t testing.TB) (string, []string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q for %d: %s", ct, r.status, r.body)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Errors []struct {
			Field, Code, Message string
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != r.status || p.Title == "" {
		t.Fatalf("problem %+v for status %d", p, r.status)
	}
	var codes []string
	for _, e := range p.Errors {
		if e.Message == "" || e.Message == e.Code {
			t.Fatalf("field error %+v has no message", e)
		}
		codes = append(codes, e.Field+":"+e.Code)
	}
	return p.Type, codes
}

func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	var sent []byte
	if rd != nil {
		sent, _ = io.ReadAll(rd)
		req.Body = io.NopCloser(bytes.NewReader(sent))
		req.ContentLength = int64(len(sent))
	}
	res, err := httpClient(c.from).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	testenv.CheckOpenAPI(c.t, req, sent, res, raw)
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

func (c *client) expect(want int, r response) response {
	c.t.Helper()
	if r.status != want {
		c.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// register and sign in a new user; returns a signed-in client.
func signUp(t testing.TB, srv *httptest.Server, username string, extra map[string]any) *client {
	t.Helper()
	anon := &client{t: t, base: srv.URL}
	body := map[string]any{"username": username, "password": "correct7horse"}
	for k, v := range extra {
		body[k] = v
	}
	anon.expect(http.StatusCreated, anon.do("POST", "/v1/users", body))
	s := anon.expect(http.StatusCreated, anon.do("POST", "/v1/sessions", map[string]any{"username": username, "password": "correct7horse"})).json(t)
	return &client{t: t, base: srv.URL, token: s["token"].(string)}
}

func TestAccountJourney(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	anon := &client{t: t, base: srv.URL}

	reg := anon.expect(http.StatusCreated, anon.do("POST", "/v1/users", map[string]any{
		"username": "ada", "password": "correct7horse", "email": "ada@example.com",
	}))
	if reg.header.Get("ETag") != `"0"` || reg.header.Get("Location") != "/v1/me" {
		t.Fatalf("headers %v", reg.header)
	}
	session := anon.expect(http.StatusCreated, anon.do("POST", "/v1/sessions", map[string]any{"username": "ADA", "password": "correct7horse"})).json(t)
	expires, err := time.Parse(time.RFC3339, session["expires_at"].(string))
	if err != nil || time.Until(expires) < time.Hour {
		t.Fatalf("expires_at %v", session["expires_at"])
	}
	me := &client{t: t, base: srv.URL, token: session["token"].(string)}

	got := me.expect(http.StatusOK, me.do("GET", "/v1/me", nil))
	if m := got.json(t); m["username"] != "ada" || m["email"] != "ada@example.com" {
		t.Fatalf("me %v", m)
	}
	tag := got.header.Get("ETag")
	me.expect(http.StatusNotModified, me.do("GET", "/v1/me", nil, "If-None-Match", tag))

	// Each write is visible to the same caller's next read, with no retry.
	for i := range 5 {
		name := fmt.Sprintf("Ada %d", i)
		patched := me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"full_name": name, "preferred_timezone": "Asia/Tokyo"}))
		if patched.json(t)["full_name"] != name {
			t.Fatalf("patch response %s", patched.body)
		}
		read := me.expect(http.StatusOK, me.do("GET", "/v1/me", nil)).json(t)
		if read["full_name"] != name {
			t.Fatalf("read after write %d: %v", i, read)
		}
		if !strings.HasSuffix(read["updated_at"].(string), "+09:00") {
			t.Fatalf("time not in the user's zone: %v", read["updated_at"])
		}
	}
	etag := me.do("GET", "/v1/me", nil).header.Get("ETag")

	renamed := me.expect(http.StatusOK, me.do("PUT", "/v1/me/username", map[string]any{"username": "Countess"}, "If-Match", etag))
	if renamed.json(t)["username"] != "Countess" {
		t.Fatalf("rename %s", renamed.body)
	}
	profile := me.expect(http.StatusOK, me.do("GET", "/v1/profiles/countess", nil)).json(t)
	if profile["username"] != "Countess" || profile["full_name"] != "Ada 4" || profile["email"] != nil {
		t.Fatalf("profile %v", profile)
	}
	me.expect(http.StatusNotFound, me.do("GET", "/v1/profiles/ada", nil))
	// The old name is free for someone else at once.
	other := signUp(t, srv, "ada", nil)
	other.expect(http.StatusOK, other.do("GET", "/v1/profiles/ada", nil))

	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/sessions/current", nil))
	me.expect(http.StatusUnauthorized, me.do("GET", "/v1/me", nil))
}

func TestBadInputGetsProblemsAndChangesNothing(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "grace", map[string]any{"email": "grace@example.com"})
	anon := &client{t: t, base: srv.URL}
	before := me.do("GET", "/v1/me", nil)

	tests := []struct {
		name         string
		c            *client
		method, path string
		body         any
		headers      []string
		status       int
		kind         string
		codes        []string
	}{
		{"malformed json", anon, "POST", "/v1/users", `{"username":`, nil, 400, "malformed_request", []string{"body:request.malformed_json"}},
		{"unknown field", anon, "POST", "/v1/users", `{"username":"x","password":"y","admin":true}`, nil, 400, "malformed_request", []string{"admin:request.unknown_field"}},
		{"wrong type", anon, "POST", "/v1/users", `{"username":42,"password":"y"}`, nil, 400, "malformed_request", []string{"username:request.wrong_type"}},
		{"two values", anon, "POST", "/v1/users", `{"username":"x"}{}`, nil, 400, "malformed_request", []string{"body:request.trailing_data"}},
		{"not json", anon, "POST", "/v1/users", nil, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", nil},
		{"too large", anon, "POST", "/v1/users", `{"username":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "payload_too_large", nil},
		{"bad username", anon, "POST", "/v1/users", map[string]any{"username": "9 lives", "password": "correct7horse"}, nil, 422, "validation",
			[]string{"username:username.whitespace", "username:username.starts_with_digit"}},
		{"common password", anon, "POST", "/v1/users", map[string]any{"username": "hopper", "password": "qwerty123"}, nil, 422, "validation", []string{"password:password.too_common"}},
		{"taken", anon, "POST", "/v1/users", map[string]any{"username": "GRACE", "password": "correct7horse"}, nil, 409, "username_taken", []string{"username:username.taken"}},
		{"sign in missing password", anon, "POST", "/v1/sessions", map[string]any{"username": "grace"}, nil, 422, "validation", []string{"password:request.required"}},
		{"wrong password", anon, "POST", "/v1/sessions", map[string]any{"username": "grace", "password": "wrong7horse"}, nil, 401, "invalid_credentials", nil},
		{"no token", anon, "GET", "/v1/me", nil, nil, 401, "unauthorized", nil},
		{"forged token", &client{t: t, base: srv.URL, token: "acs_00000000000000000000000000000000_x"}, "GET", "/v1/me", nil, nil, 401, "unauthorized", nil},
		{"bad email", me, "PATCH", "/v1/me", map[string]any{"email": "grace@", "description": strings.Repeat("d", 1001)}, nil, 422, "validation",
			[]string{"email:email.invalid", "description:description.too_long"}},
		{"bad language", me, "PATCH", "/v1/me", map[string]any{"preferred_language": "xx-"}, nil, 422, "validation", []string{"preferred_language:preferred_language.invalid"}},
		{"bad zone", me, "PATCH", "/v1/me", map[string]any{"preferred_timezone": "Europe/Atlantis"}, nil, 422, "validation", []string{"preferred_timezone:preferred_timezone.unknown"}},
		{"wrong field type in patch", me, "PATCH", "/v1/me", `{"full_name": 7}`, nil, 400, "malformed_request", []string{"full_name:request.wrong_type"}},
		{"stale if-match", me, "PATCH", "/v1/me", map[string]any{"full_name": "G"}, []string{"If-Match", `"41"`}, 412, "precondition_failed", nil},
		{"garbled if-match", me, "PATCH", "/v1/me", map[string]any{"full_name": "G"}, []string{"If-Match", `W/"x`}, 400, "bad_precondition", nil},
		{"reserved name", me, "PUT", "/v1/me/username", map[string]any{"username": "admin"}, nil, 422, "validation", []string{"username:username.reserved"}},
		{"unknown route", anon, "GET", "/v1/nothing", nil, nil, 404, "not_found", nil},
		{"wrong method", anon, "DELETE", "/v1/users", nil, nil, 405, "method_not_allowed", nil},
		{"released profile", anon, "GET", "/v1/profiles/nobody", nil, nil, 404, "not_found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.t = t
			r := tt.c.do(tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			kind, codes := r.problem(t)
			if kind != "/problems/"+tt.kind || !slices.Equal(codes, tt.codes) {
				t.Fatalf("problem %s %v, want %s %v", kind, codes, tt.kind, tt.codes)
			}
		})
	}
	me.t, anon.t = t, t
	after := me.do("GET", "/v1/me", nil)
	if after.header.Get("ETag") != before.header.Get("ETag") || !bytes.Equal(after.body, before.body) {
		t.Fatalf("bad input changed the account:\n%s\n%s", before.body, after.body)
	}
	anon.expect(http.StatusNotFound, anon.do("GET", "/v1/profiles/hopper", nil))
}

func TestErrorsSpeakTheCallersLanguage(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	anon := &client{t: t, base: srv.URL, lang: "tr-TR,tr;q=0.9,en;q=0.5"}
	r := anon.do("POST", "/v1/users", map[string]any{"username": "ab", "password": "correct7horse"})
	var p struct {
		Title  string
		Errors []struct{ Message string }
	}
	_ = json.Unmarshal(r.body, &p)
	if r.header.Get("Content-Language") != "tr" || !strings.Contains(p.Errors[0].Message, "en az 3 karakter") {
		t.Fatalf("not Turkish: %s", r.body)
	}
	// A signed-in user's preference wins over Accept-Language.
	me := signUp(t, srv, "turing", map[string]any{"preferred_language": "tr"})
	me.lang = "en"
	r = me.do("PATCH", "/v1/me", map[string]any{"email": "x"})
	if r.header.Get("Content-Language") != "tr" {
		t.Fatalf("signed-in user got %s: %s", r.header.Get("Content-Language"), r.body)
	}
	anon.lang = "en"
	if r := anon.do("POST", "/v1/users", map[string]any{"username": "ab", "password": "correct7horse"}); r.header.Get("Content-Language") != "en" {
		t.Fatalf("English caller got %s", r.header.Get("Content-Language"))
	}
}

func TestSignInIsThrottled(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{SignInLimits: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour}}}, "")
	signUp(t, srv, "linus", nil)
	// Parallel guesses from one address cannot get past the limit: they run
	// one at a time, three fail, the rest are refused.
	const guesses = 20
	statuses := make([]int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, base: srv.URL}
			statuses[i] = c.do("POST", "/v1/sessions", map[string]any{"username": "linus", "password": "guess" + strconv.Itoa(i) + "x"}).status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[401] != 3 || counts[429] != guesses-3 {
		t.Fatalf("statuses %v", counts)
	}
	anon := &client{t: t, base: srv.URL}
	r := anon.do("POST", "/v1/sessions", map[string]any{"username": "linus", "password": "correct7horse"})
	if r.status != 429 {
		t.Fatalf("right password from the hammering address: %d", r.status)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs <= 0 || secs > 3600 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	r.problem(t)
	// The owner, from another address, signs in while the storm goes on.
	owner := &client{t: t, base: srv.URL, from: "127.0.0.2"}
	owner.expect(http.StatusCreated, owner.do("POST", "/v1/sessions", map[string]any{"username": "linus", "password": "correct7horse"}))
	// Another account is not affected.
	signUp(t, srv, "torvalds", nil)
}

// Registrations per address are limited: each is an argon2id hash.
func TestRegistrationIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{RegistrationLimit: commands.Rate{Burst: 3, Every: time.Hour}}, "")
	anon := &client{t: t, base: srv.URL}
	for i := range 3 {
		anon.expect(http.StatusCreated, anon.do("POST", "/v1/users", map[string]any{"username": fmt.Sprintf("user%d", i), "password": "correct7horse"}))
	}
	r := anon.do("POST", "/v1/users", map[string]any{"username": "user3", "password": "correct7horse"})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("fourth registration: %d %v", r.status, r.header)
	}
	if kind, _ := r.problem(t); kind != "/problems/rate_limited" {
		t.Fatalf("problem %s", kind)
	}
	// Invalid input is refused before the limit is spent, and another
	// address still registers.
	anon.expect(http.StatusUnprocessableEntity, anon.do("POST", "/v1/users", map[string]any{"username": "x", "password": "y"}))
	other := &client{t: t, base: srv.URL, from: "127.0.0.2"}
	other.expect(http.StatusCreated, other.do("POST", "/v1/users", map[string]any{"username": "user3", "password": "correct7horse"}))
}

func TestFiftyRenamesToOneNameHaveOneWinner(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{}, "")
	const n = 50
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = signUp(t, srv, fmt.Sprintf("racer%d", i), nil)
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = c.do("PUT", "/v1/me/username", map[string]any{"username": "Winner"}).status
		}()
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[200] != 1 || counts[409] != n-1 {
		t.Fatalf("statuses %v", counts)
	}
	log := eventlog.New(a.Platform.ESDB)
	evs, err := log.ReadStream(t.Context(), events.UsernameStream("winner"), commands.NoStream)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != events.UsernameClaimed {
		t.Fatalf("reservation stream holds %d events", len(evs))
	}
	claim := evs[0].Payload.(events.UsernameClaimedV1)
	winner := clients[slices.Index(statuses, 200)]
	if me := winner.do("GET", "/v1/me", nil).json(t); me["id"] != claim.UserID || me["username"] != "Winner" {
		t.Fatalf("winner %v, claim %+v", me, claim)
	}
}

func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, srv := testenv.App(t, app.Config{}, dir)
	me := signUp(t, srv, "hopper", nil)
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"full_name": "Grace Hopper"}))
	me.expect(http.StatusOK, me.do("PUT", "/v1/me/username", map[string]any{"username": "amazinggrace"}))
	srv.Close()
	first.Close()

	_, srv = testenv.App(t, app.Config{}, dir)
	me.base = srv.URL
	// The session survives, and so does everything written.
	got := me.expect(http.StatusOK, me.do("GET", "/v1/me", nil))
	if m := got.json(t); m["full_name"] != "Grace Hopper" || m["username"] != "amazinggrace" || got.header.Get("ETag") != `"2"` {
		t.Fatalf("after restart: %s %v", got.body, got.header.Get("ETag"))
	}
	// Anonymous readers get no read-your-writes promise: the public
	// profile converges as the projectors resume.
	anon := &client{t: t, base: srv.URL}
	deadline := time.Now().Add(10 * time.Second)
	for anon.do("GET", "/v1/profiles/amazinggrace", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("renamed profile never appeared after restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	anon.expect(http.StatusNotFound, anon.do("GET", "/v1/profiles/hopper", nil))
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"description": "COBOL"}))
}

// Error responses are mapped without loading anything: a 404, a 405, a 400
// or a 422 makes no event-store read, signed in or not. The service is
// restarted first, so that no account is in a cache.
func TestErrorsMakeNoEventStoreRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, srv := testenv.App(t, app.Config{}, dir)
	me := signUp(t, srv, "grace", map[string]any{"preferred_language": "tr"})
	srv.Close()
	first.Close()
	a, srv := testenv.App(t, app.Config{}, dir)
	me.base = srv.URL
	anon := &client{t: t, base: srv.URL}
	before := a.Platform.EventStore.StreamReads()
	for _, tt := range []struct {
		c            *client
		method, path string
		body         any
		status       int
	}{
		{anon, "GET", "/v1/nothing", nil, 404},
		{me, "GET", "/v1/nothing", nil, 404},
		{me, "DELETE", "/v1/users", nil, 405},
		{me, "PATCH", "/v1/me", `{"full_name":`, 400},
		{me, "PATCH", "/v1/me", map[string]any{"email": "nope"}, 422},
		{anon, "POST", "/v1/users", map[string]any{"username": "9 lives", "password": "x"}, 422},
		{me, "PUT", "/v1/me/username", map[string]any{"username": "admin"}, 422},
		{anon, "GET", "/v1/me", nil, 401},
	} {
		r := tt.c.do(tt.method, tt.path, tt.body)
		if r.status != tt.status {
			t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, r.status, tt.status)
		}
		if tt.c == me && r.header.Get("Content-Language") != "tr" {
			t.Fatalf("%s %s: language %q", tt.method, tt.path, r.header.Get("Content-Language"))
		}
	}
	if after := a.Platform.EventStore.StreamReads(); after != before {
		t.Fatalf("error responses made %d event-store reads", after-before)
	}
}

// Input is read strictly: exact keys, no key twice, field errors named by
// their JSON field, no invisible or bidirectional control characters, only
// languages with messages and only time zones of places.
func TestStrictInput(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	anon := &client{t: t, base: srv.URL}
	me := signUp(t, srv, "grace", nil)
	before := me.do("GET", "/v1/me", nil)
	tests := []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		status int
		codes  []string
	}{
		{"key in another case", anon, "POST", "/v1/users", `{"USERNAME":"ada","password":"correct7horse"}`, 400, []string{"USERNAME:request.unknown_field"}},
		{"key given twice", anon, "POST", "/v1/users", `{"username":"admin","username":"ada","password":"correct7horse"}`, 400, []string{"username:request.duplicate_field"}},
		{"wrong type names the JSON field", anon, "POST", "/v1/users", `{"username":"ada","password":"correct7horse","full_name":123}`, 400, []string{"full_name:request.wrong_type"}},
		{"every field error at once", anon, "POST", "/v1/users", `{"username":1,"Password":"x","email":true}`, 400,
			[]string{"username:request.wrong_type", "Password:request.unknown_field", "email:request.wrong_type"}},
		{"invalid UTF-8", me, "PATCH", "/v1/me", "{\"full_name\":\"Gr\xe4ce\"}", 400, []string{"full_name:request.invalid_utf8"}},
		{"not an object", anon, "POST", "/v1/users", `["username"]`, 400, []string{"body:request.not_an_object"}},
		{"right-to-left override", me, "PATCH", "/v1/me", map[string]any{"full_name": "Grace \u202egnp.exe"}, 422, []string{"full_name:full_name.invalid_characters"}},
		{"isolate", me, "PATCH", "/v1/me", map[string]any{"description": "a \u2066b\u2069"}, 422, []string{"description:description.invalid_characters"}},
		{"zero-width space", me, "PATCH", "/v1/me", map[string]any{"full_name": "Gr\u200bace"}, 422, []string{"full_name:full_name.invalid_characters"}},
		{"undetermined language", me, "PATCH", "/v1/me", map[string]any{"preferred_language": "und"}, 422, []string{"preferred_language:preferred_language.unsupported"}},
		{"language without a catalog", me, "PATCH", "/v1/me", map[string]any{"preferred_language": "de-DE"}, 422, []string{"preferred_language:preferred_language.unsupported"}},
		{"Factory zone", me, "PATCH", "/v1/me", map[string]any{"preferred_timezone": "Factory"}, 422, []string{"preferred_timezone:preferred_timezone.unknown"}},
		{"posixrules", me, "PATCH", "/v1/me", map[string]any{"preferred_timezone": "posixrules"}, 422, []string{"preferred_timezone:preferred_timezone.unknown"}},
		{"Etc zone", me, "PATCH", "/v1/me", map[string]any{"preferred_timezone": "Etc/GMT+3"}, 422, []string{"preferred_timezone:preferred_timezone.unknown"}},
		{"rule zone", me, "PATCH", "/v1/me", map[string]any{"preferred_timezone": "EST5EDT"}, 422, []string{"preferred_timezone:preferred_timezone.unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.t = t
			r := tt.c.do(tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if _, codes := r.problem(t); !slices.Equal(codes, tt.codes) {
				t.Fatalf("codes %v, want %v", codes, tt.codes)
			}
		})
	}
	me.t, anon.t = t, t
	if after := me.do("GET", "/v1/me", nil); !bytes.Equal(after.body, before.body) {
		t.Fatalf("refused input changed the account: %s", after.body)
	}
	anon.expect(http.StatusNotFound, anon.do("GET", "/v1/profiles/ada", nil))
	anon.expect(http.StatusNotFound, anon.do("GET", "/v1/profiles/admin", nil))
	// What is allowed stays allowed.
	ok := me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{
		"full_name": "👩\u200d💻 Grace", "preferred_timezone": "America/Argentina/Buenos_Aires", "preferred_language": "tr-CY",
	})).json(t)
	if ok["full_name"] != "👩\u200d💻 Grace" || ok["preferred_language"] != "tr-CY" {
		t.Fatalf("patched %v", ok)
	}
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"preferred_timezone": "UTC"}))
}

// Parallel PATCHes of one account without If-Match all succeed, and the
// account ends with every field of every write.
func TestParallelPatchesWithoutIfMatchAllSucceed(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "hopper", nil)
	const n = 30
	fields := []string{"full_name", "description", "email", "preferred_timezone", "preferred_language"}
	values := map[string]func(int) string{
		"full_name":   func(i int) string { return fmt.Sprint("Name ", i) },
		"description": func(i int) string { return fmt.Sprint("Description ", i) },
		"email":       func(i int) string { return fmt.Sprintf("g%d@example.com", i) },
		"preferred_timezone": func(i int) string {
			return []string{"Asia/Tokyo", "Europe/Paris", "America/Lima", "Africa/Cairo", "Europe/Oslo", "Asia/Seoul"}[i/5]
		},
		"preferred_language": func(i int) string { return []string{"tr", "en", "tr-TR", "en-GB", "tr-CY", "en-US"}[i/5] },
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, base: srv.URL, token: me.token}
			f := fields[i%len(fields)]
			statuses[i] = c.do("PATCH", "/v1/me", map[string]any{f: values[f](i)}).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("PATCH %d: %d (%v)", i, s, statuses)
		}
	}
	got := me.expect(http.StatusOK, me.do("GET", "/v1/me", nil))
	m := got.json(t)
	for _, f := range fields {
		if m[f] == "" {
			t.Errorf("%s lost: %v", f, m)
		}
	}
	if got.header.Get("ETag") != fmt.Sprintf(`"%d"`, n) {
		t.Fatalf("ETag %s after %d writes", got.header.Get("ETag"), n)
	}
}
