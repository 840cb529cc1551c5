package web_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// browser is a client that keeps cookies by hand (net/http/cookiejar keeps
// Secure cookies off plain HTTP; browsers send them to localhost) and does
// not follow redirects.
type browser struct {
	t       *testing.T
	base    string
	cookies map[string]string
	header  http.Header
}

type page struct {
	status int
	header http.Header
	body   string
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	return &browser{t: t, base: srv.URL, cookies: map[string]string{}, header: http.Header{}}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

// get follows redirects (GET only) to the page at the end.
func (b *browser) get(path string) page {
	b.t.Helper()
	for range 5 {
		p := b.do("GET", path, nil)
		if p.status != http.StatusSeeOther && p.status != http.StatusFound {
			return p
		}
		path = p.header.Get("Location")
	}
	b.t.Fatalf("redirect loop at %s", path)
	return page{}
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.do("POST", path, form)
}

func expect(t *testing.T, p page, status int) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d: %.600s", p.status, status, p.body)
	}
	return p
}

func signUp(t *testing.T, srv *httptest.Server, name string) *browser {
	t.Helper()
	b := newBrowser(t, srv)
	p := expect(t, b.post("/signup", url.Values{"username": {name}, "password": {"correct7horse"}, "email": {name + "@example.com"},
		"preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	if p.header.Get("Location") != "/settings/profile" {
		t.Fatalf("after sign-up: %v", p.header)
	}
	return b
}

var (
	h1Re      = regexp.MustCompile(`<h1[ >]`)
	inputRe   = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idRe      = regexp.MustCompile(`\bid="([^"]+)"`)
	rawKeyRe  = regexp.MustCompile(`\bui\.[a-z_]+\.[a-z_.]+`)
	nonceRe   = regexp.MustCompile(`nonce-([A-Za-z0-9_-]+)`)
	scriptRe  = regexp.MustCompile(`<script [^>]*nonce="([^"]+)"`)
	signedIn  = []string{"/settings/profile", "/settings/password", "/settings/tokens", "/settings/tokens/new", "/settings/sessions", "/settings/credentials", "/settings/credentials/new", "/settings/notifications", "/notifications", "/settings/security-log", "/settings/account", "/admin/users", "/margaret"}
	signedOut = []string{"/login", "/signup"}
)

// checkPage holds every page to the console's rules: one h1, a label for
// every control, no untranslated key, the security headers, and a CSP
// nonce that the script carries.
func checkPage(t *testing.T, path string, p page, signedInUser bool) {
	t.Helper()
	if n := len(h1Re.FindAllString(p.body, -1)); n != 1 {
		t.Errorf("%s: %d <h1>", path, n)
	}
	for _, in := range inputRe.FindAllString(p.body, -1) {
		if strings.Contains(in, `type="hidden"`) {
			continue
		}
		m := idRe.FindStringSubmatch(in)
		if m == nil || !strings.Contains(p.body, `for="`+m[1]+`"`) {
			t.Errorf("%s: control without a label: %s", path, in)
		}
	}
	if k := rawKeyRe.FindString(p.body); k != "" {
		t.Errorf("%s: untranslated %q", path, k)
	}
	h := p.header
	csp := h.Get("Content-Security-Policy")
	n := nonceRe.FindStringSubmatch(csp)
	s := scriptRe.FindStringSubmatch(p.body)
	if n == nil || s == nil || n[1] != s[1] || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP %q, script nonce %v", path, csp, s)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Errorf("%s: headers %v", path, h)
	}
	if signedInUser && h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q while signed in", path, h.Get("Cache-Control"))
	}
	checkSummaryLinks(t, path, p.body)
	if strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") {
		t.Errorf("%s: inline style", path)
	}
}

func TestEveryPageInBothLanguages(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}}, "")
	for _, lang := range []string{"en", "tr"} {
		anon := newBrowser(t, srv)
		anon.header.Set("Accept-Language", lang)
		for _, path := range signedOut {
			p := expect(t, anon.get(path), http.StatusOK)
			if !strings.Contains(p.body, `<html lang="`+lang+`">`) {
				t.Errorf("%s in %s: %.200s", path, lang, p.body)
			}
			checkPage(t, path, p, false)
		}
	}
	b := signUp(t, srv, "margaret")
	for _, lang := range []string{"en", "tr"} {
		expect(t, b.post("/settings/profile", url.Values{"username": {"margaret"}, "email": {"margaret@example.com"}, "preferred_language": {lang},
			"preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
		nonces := map[string]bool{}
		for _, path := range signedIn {
			p := expect(t, b.get(path), http.StatusOK)
			if !strings.Contains(p.body, `<html lang="`+lang+`">`) {
				t.Errorf("%s: not in %s", path, lang)
			}
			checkPage(t, path, p, true)
			nonce := nonceRe.FindStringSubmatch(p.header.Get("Content-Security-Policy"))[1]
			if nonces[nonce] {
				t.Errorf("nonce %s used twice", nonce)
			}
			nonces[nonce] = true
		}
	}
	// The product's labels, exactly.
	b.post("/settings/profile", url.Values{"username": {"margaret"}, "preferred_language": {"en"}, "email": {"margaret@example.com"}, "preferred_timezone": {"Europe/Istanbul"}})
	profile := b.get("/settings/profile").body
	for _, label := range []string{">Username<", ">Full Name<", ">E-mail Address<", ">Description<", ">Preferred Language<", ">Preferred Timezone<", ">Profile Picture<"} {
		if !strings.Contains(profile, label) {
			t.Errorf("profile page lacks %s", label)
		}
	}
	if !strings.Contains(profile, "free for anyone to take at once") {
		t.Error("the profile page does not warn that the old name is freed")
	}
	password := b.get("/settings/password").body
	for _, label := range []string{">Current password<", ">New password<", ">Confirm new password<", ">Update<"} {
		if !strings.Contains(password, label) {
			t.Errorf("password page lacks %s", label)
		}
	}
	b.post("/settings/tokens/new", url.Values{"title": {"ci"}, "expires": {time.Now().AddDate(0, 0, 30).Format("2006-01-02")}, "scopes": {"profile:read"}, "enabled": {"on"}})
	tokens := b.get("/settings/tokens").body
	for _, col := range []string{">Creation<", ">Title<", ">Token<", ">Scopes<", ">Expiry date<", ">Last used<", ">Enabled<", ">New Access Token<"} {
		if !strings.Contains(tokens, col) {
			t.Errorf("tokens page lacks %s", col)
		}
	}
	newToken := b.get("/settings/tokens/new").body
	for _, l := range []string{">Title<", ">Expiry date<", ">Scopes<", ">Enabled<", ">Generate token<"} {
		if !strings.Contains(newToken, l) {
			t.Errorf("new token page lacks %s", l)
		}
	}
}

func TestSecurity(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	anon := newBrowser(t, srv)
	p := anon.post("/signup", url.Values{"username": {"ada"}, "password": {"correct7horse"}})
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if strings.HasSuffix(c.Name, "session") {
			session = c
		}
	}
	if session == nil || session.Name != "__Host-accountd_session" || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Domain != "" {
		t.Fatalf("session cookie %+v", session)
	}
	b := anon
	// A cross-origin POST is refused and changes nothing.
	before := b.get("/settings/profile").body
	cross := b.do("POST", "/settings/profile", url.Values{"username": {"ada"}, "full_name": {"Mallory"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	expect(t, cross, http.StatusForbidden)
	if after := b.get("/settings/profile").body; strings.Contains(after, "Mallory") || !strings.Contains(before, "ada") {
		t.Fatal("a cross-origin POST changed the profile")
	}
	// Same-origin browsers pass.
	expect(t, b.do("POST", "/settings/profile", url.Values{"username": {"ada"}, "full_name": {"Ada"}}, "Origin", srv.URL, "Sec-Fetch-Site", "same-origin"), http.StatusSeeOther)
	// No state change on GET: the state-changing routes take POST only;
	// GET /logout asks.
	if r := expect(t, b.do("GET", "/logout", nil), http.StatusOK); !strings.Contains(r.body, `<form method="post" action="/logout"`) {
		t.Fatalf("GET /logout: %.300s", r.body)
	}
	expect(t, b.get("/settings/profile"), http.StatusOK) // still signed in
	expect(t, b.do("GET", "/settings/tokens/x/enabled", nil), http.StatusMethodNotAllowed)
	// ?next= takes local paths only.
	for next, want := range map[string]string{"/settings/tokens": "/settings/tokens", "//evil.example/x": "/settings/profile",
		"https://evil.example/": "/settings/profile", "/\\evil.example": "/settings/profile", "/\t/evil.example": "/settings/profile"} {
		fresh := newBrowser(t, srv)
		got := fresh.post("/login", url.Values{"username": {"ada"}, "password": {"correct7horse"}, "next": {next}}).header.Get("Location")
		if got != want {
			t.Errorf("next=%q went to %q, want %q", next, got, want)
		}
	}
	// Signed out, a settings page sends to the sign-in page and back.
	if loc := newBrowser(t, srv).do("GET", "/settings/tokens", nil).header.Get("Location"); loc != "/login?next=%2Fsettings%2Ftokens" {
		t.Fatalf("signed out: %q", loc)
	}
	// The reserved names never reach the public profile page.
	for _, name := range []string{"settings", "admin", "notifications", "login", "static", "v1"} {
		r := newBrowser(t, srv).post("/signup", url.Values{"username": {name}, "password": {"correct7horse"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "reserved") {
			t.Errorf("username %q: %d", name, r.status)
		}
	}
	expect(t, anon.get("/ada"), http.StatusOK)
	expect(t, newBrowser(t, srv).get("/nobody"), http.StatusNotFound)
	// Static files: hashed names, cached for good.
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{12}\.css`).FindString(before)
	st := expect(t, anon.do("GET", css, nil), http.StatusOK)
	if !strings.Contains(st.header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(st.header.Get("Content-Type"), "text/css") {
		t.Fatalf("static headers %v", st.header)
	}
	expect(t, anon.do("GET", "/static/app.000000000000.css", nil), http.StatusNotFound)
}

// The generated token is shown once, never in a URL; creating one needs
// a recent password confirmation.
func TestTokenShownOnceAfterReauth(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	b := signUp(t, srv, "ada")
	form := url.Values{"title": {"deploy"}, "expires": {time.Now().AddDate(0, 0, 10).Format("2006-01-02")}, "scopes": {"profile:read"}, "enabled": {"on"}}
	created := expect(t, b.post("/settings/tokens/new", form), http.StatusSeeOther)
	if loc := created.header.Get("Location"); loc != "/settings/tokens/created" {
		t.Fatalf("to %q", loc)
	}
	shown := expect(t, b.get("/settings/tokens/created"), http.StatusOK)
	secret := regexp.MustCompile(`acp_[A-Za-z0-9]{38}`).FindString(shown.body)
	if secret == "" || !strings.Contains(shown.body, "will not be shown again") || !strings.Contains(shown.body, "data-copy") {
		t.Fatalf("created page %.800s", shown.body)
	}
	again := b.do("GET", "/settings/tokens/created", nil)
	if again.status != http.StatusSeeOther || strings.Contains(again.body, secret) {
		t.Fatal("the token was shown twice")
	}
	// It works against the API.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/auth/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the token against the API: %v %v", res, err)
	}
	res.Body.Close()
}

// Ten minutes after the last password confirmation, creating a token,
// revealing a secret and deleting the account ask for the password again;
// until then nothing happens.
func TestReauthentication(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	_, srv := testenv.App(t, app.Config{ConsoleNow: now}, "")
	b := signUp(t, srv, "ada")
	expect(t, b.post("/settings/credentials/new", url.Values{"service": {"git"}, "url": {"https://git.example.com"}, "secret": {"s3cret-Value"}}), http.StatusSeeOther)
	cards := expect(t, b.get("/settings/credentials"), http.StatusOK).body
	credID := regexp.MustCompile(`/settings/credentials/([0-9a-f-]{36})/reveal`).FindStringSubmatch(cards)[1]
	mu.Lock()
	offset = 11 * time.Minute
	mu.Unlock()
	form := url.Values{"title": {"late"}, "expires": {time.Now().AddDate(0, 0, 10).Format("2006-01-02")}, "scopes": {"profile:read"}, "enabled": {"on"}}
	for _, step := range []struct{ path, referer, back string }{
		{"/settings/tokens/new", "", "/settings/tokens/new"},
		{"/settings/credentials/" + credID + "/reveal", "/settings/credentials", "/settings/credentials"},
		{"/settings/account/delete", "", "/settings/account"},
	} {
		var headers []string
		if step.referer != "" {
			headers = []string{"Referer", srv.URL + step.referer}
		}
		r := b.do("POST", step.path, url.Values{"confirm": {"on"}, "title": form["title"], "expires": form["expires"], "scopes": form["scopes"]}, headers...)
		if want := "/reauth?next=" + url.QueryEscape(step.back); r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("%s after 11 minutes: %d to %q, want %q", step.path, r.status, r.header.Get("Location"), want)
		}
	}
	if body := expect(t, b.get("/settings/tokens"), http.StatusOK).body; strings.Contains(body, "late") {
		t.Fatal("a token was created without a recent confirmation")
	}
	expect(t, b.get("/settings/profile"), http.StatusOK) // not deleted
	// A wrong password is refused on the page; the right one goes on.
	if r := b.post("/reauth", url.Values{"current_password": {"wrong7horse"}, "next": {"/settings/tokens/new"}}); r.status != http.StatusForbidden || !strings.Contains(r.body, `href="#f-current_password"`) {
		t.Fatalf("wrong password: %d %.300s", r.status, r.body)
	}
	if r := b.post("/reauth", url.Values{"current_password": {"correct7horse"}, "next": {"/settings/tokens/new"}}); r.header.Get("Location") != "/settings/tokens/new" {
		t.Fatalf("confirmed: %d to %q", r.status, r.header.Get("Location"))
	}
	expect(t, b.post("/settings/tokens/new", form), http.StatusSeeOther)
}

// What a client gets wrong gets an error page or the form again, and
// changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{Admins: []string{"ada"}}, "")
	b := signUp(t, srv, "ada")
	signUp(t, srv, "grace")
	profile := url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "full_name": {"Ada"}, "preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}
	expect(t, b.post("/settings/profile", profile), http.StatusSeeOther)
	nonces := regexp.MustCompile(`nonce[-=]"?[A-Za-z0-9_-]+`)
	saved := func() string {
		return nonces.ReplaceAllString(expect(t, b.get("/settings/profile"), http.StatusOK).body, "")
	}
	saved() // takes the "saved" message
	before := saved()
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range profile {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	tests := []struct {
		name   string
		do     func() page
		status int
		says   string
	}{
		{"a form over 64 KiB", func() page {
			return b.post("/settings/profile", with(url.Values{"description": {strings.Repeat("x", 70_000)}}))
		},
			http.StatusRequestEntityTooLarge, "too large"},
		{"a body that is not a form", func() page {
			return b.do("POST", "/settings/notifications", nil, "Content-Type", "multipart/form-data; boundary=x")
		}, http.StatusBadRequest, "not a form"},
		{"a body that is no form", func() page {
			return b.do("POST", "/settings/notifications", nil, "Content-Type", "text/plain")
		}, http.StatusBadRequest, "not a form"},
		{"a form under another media type", func() page {
			return b.do("POST", "/settings/profile", with(url.Values{"full_name": {"Mallory"}}), "Content-Type", "application/json")
		}, http.StatusBadRequest, "not a form"},
		{"a taken name with another change", func() page {
			return b.post("/settings/profile", with(url.Values{"username": {"grace"}, "email": {"new@example.com"}}))
		}, http.StatusConflict, "taken"},
		{"an invalid name and an invalid e-mail at once", func() page {
			return b.post("/settings/profile", with(url.Values{"username": {"a"}, "email": {"ada@"}}))
		}, http.StatusUnprocessableEntity, "valid e-mail"},
		{"a full name of two lines", func() page {
			return b.post("/settings/profile", with(url.Values{"full_name": {"Ada\r\nInjected: yes"}}))
		}, http.StatusUnprocessableEntity, `<a href="#f-full_name">The full name must be on one line.`},
		{"a full name with a line separator", func() page {
			return b.post("/settings/profile", with(url.Values{"full_name": {"Ada\u2028Lovelace"}, "username": {"ada2"}}))
		}, http.StatusUnprocessableEntity, `<a href="#f-full_name">The full name must be on one line.`},
		{"a token title of two lines", func() page {
			return b.post("/settings/tokens/new", url.Values{"title": {"ci\nInjected: yes"}, "expires": {"2026-12-31"}, "scopes": {"profile:read"}})
		}, http.StatusUnprocessableEntity, `<a href="#f-title">This field must be on one line.`},
		{"enabled is not a boolean", func() page { return b.post("/settings/tokens/x/enabled", url.Values{"enabled": {"maybe"}}) }, http.StatusBadRequest, ""},
		{"an unknown token", func() page { return b.do("GET", "/settings/tokens/zzz", nil) }, http.StatusNotFound, "does not exist"},
		{"an unknown token's delete page", func() page { return b.do("GET", "/settings/tokens/zzz/delete", nil) }, http.StatusNotFound, ""},
		{"an unknown credential", func() page { return b.do("GET", "/settings/credentials/zzz/edit", nil) }, http.StatusNotFound, ""},
		{"a search that is not UTF-8", func() page { return b.do("GET", "/admin/users?q=%ff", nil) }, http.StatusOK, ""},
		{"a date that is not one, with another error", func() page {
			return b.post("/settings/tokens/new", url.Values{"title": {""}, "expires": {"31/12/2026"}, "scopes": {"profile:read"}})
		}, http.StatusUnprocessableEntity, "year-month-day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.do()
			if p.status != tt.status || !strings.Contains(p.body, tt.says) {
				t.Fatalf("%d, want %d with %q: %.600s", p.status, tt.status, tt.says, p.body)
			}
			if p.status >= 500 {
				t.Fatal("a client's mistake answered as ours")
			}
			checkSummaryLinks(t, tt.name, p.body)
			if after := saved(); after != before {
				t.Fatal("the profile changed")
			}
		})
	}
	// The date page lists the title's error too, at once.
	p := b.post("/settings/tokens/new", url.Values{"title": {""}, "expires": {"31/12/2026"}, "scopes": {"profile:read"}})
	if !strings.Contains(p.body, `href="#f-title"`) || !strings.Contains(p.body, `href="#f-expires"`) {
		t.Fatalf("not every error at once: %.1500s", p.body)
	}
	// A browser that reports a zone nobody knows still signs up.
	fresh := newBrowser(t, srv)
	expect(t, fresh.post("/signup", url.Values{"username": {"erin"}, "password": {"correct7horse"}, "preferred_timezone": {"Etc/Unknown"}}), http.StatusSeeOther)
}

// A textarea sends CRLF; the description is kept with LF and shown so.
func TestDescriptionKeptWithLF(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	b := signUp(t, srv, "ada")
	expect(t, b.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "description": {"one\r\ntwo\r\nthree"},
		"preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	if p := expect(t, b.get("/settings/profile"), http.StatusOK); !strings.Contains(p.body, ">one\ntwo\nthree</textarea>") {
		t.Fatalf("description not kept with LF: %.3000s", p.body)
	}
}

// The console's security-log download is as safe to open in a spreadsheet
// as the API's: a formula user agent comes out as text.
func TestSecurityLogCSVIsSafeInSpreadsheets(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	b := signUp(t, srv, "ada")
	b.header.Set("User-Agent", "=cmd|' /C calc'!A0")
	expect(t, b.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "full_name": {"Ada"},
		"preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	b.header.Del("User-Agent")
	p := expect(t, b.get("/settings/security-log.csv"), http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("csv %v: %q", err, p.body)
	}
	var agents []string
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("cell %q can start a formula", cell)
			}
		}
		agents = append(agents, row[7])
	}
	if !slices.Contains(agents, "'=cmd|' /C calc'!A0") {
		t.Fatalf("user agents %q", agents)
	}
}

var summaryLinkRe = regexp.MustCompile(`<li><a href="#([^"]+)">`)

// checkSummaryLinks: every link of an error summary leads to a field.
func checkSummaryLinks(t *testing.T, path, body string) {
	t.Helper()
	for _, m := range summaryLinkRe.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(body, `id="`+m[1]+`"`) {
			t.Errorf("%s: the error summary links to #%s, which is not on the page", path, m[1])
		}
	}
}

var assetRe = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// Every page, with its stylesheet and script and without a picture, stays
// under 30 KB, the script under 5 KB. With -v it prints each page's weight.
func TestPageWeight(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}}, "")
	b := signUp(t, srv, "margaret")
	for i := range 3 { // a table with rows, as a user would have
		expect(t, b.post("/settings/tokens/new", url.Values{"title": {fmt.Sprintf("deploys %d", i)}, "scopes": {"profile:read", "tokens:read"},
			"expires": {time.Now().AddDate(0, 0, 30).Format("2006-01-02")}, "enabled": {"on"}}), http.StatusSeeOther)
	}
	assets := map[string]int{}
	for _, path := range signedIn {
		p := expect(t, b.get(path), http.StatusOK)
		weight, script := len(p.body), 0
		for _, m := range assetRe.FindAllStringSubmatch(p.body, -1) {
			if _, ok := assets[m[1]]; !ok {
				assets[m[1]] = len(expect(t, b.get(m[1]), http.StatusOK).body)
			}
			weight += assets[m[1]]
			if strings.HasSuffix(m[1], ".js") {
				script += assets[m[1]]
			}
		}
		t.Logf("%-28s %5d B page, %6d B with assets, %4d B script", path, len(p.body), weight, script)
		if weight > 30_000 || script > 5_000 || script == 0 {
			t.Errorf("%s weighs %d B, script %d B", path, weight, script)
		}
	}
}

// Security notices cannot be switched off in the app: the box is shown
// checked and disabled, and a form without it keeps them on.
func TestNotificationSettingsKeepSecurityInApp(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	b := signUp(t, srv, "ada")
	expect(t, b.post("/settings/notifications", url.Values{"product.email": {"on"}, "tokens.in_app": {"on"}, "lead_days": {"3"}}), http.StatusSeeOther)
	p := expect(t, b.get("/settings/notifications"), http.StatusOK)
	for want, on := range map[string]bool{
		`id="f-security-in_app" checked disabled`:             true,
		`id="f-product-email" name="product.email" checked`:   true,
		`id="f-tokens-in_app" name="tokens.in_app" checked`:   true, // what was saved reads back
		`id="f-account-in_app" name="account.in_app" checked`: false,
		`id="f-security-email" name="security.email" checked`: false,
		`value="3"`: true,
	} {
		if strings.Contains(p.body, want) != on {
			t.Errorf("%s: want present=%v", want, on)
		}
	}
}
