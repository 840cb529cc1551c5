package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// Agents as browsers and other clients send them, long ones included.
var longAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 Edg/156.0.3405.102 " +
		"OPR/118.0.0.0 (with a vendor suffix that keeps going: build=20261207.1234567890; channel=stable; arch=x86_64)",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
	"ExampleCorpDeploymentAgent/4.2.1-rc.7+build.20261207.abcdef0123456789abcdef0123456789 (linux; amd64; go1.26; +https://deploy.example.com/docs/agent)",
	"curl/8.5.0",
}

// apiSignInAs starts a session over the API with this User-Agent.
func apiSignInAs(t *testing.T, base, username, password, agent string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/sessions", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", agent)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in as %s: %d", agent, res.StatusCode)
	}
}

var (
	tokenIDRe      = regexp.MustCompile(`href="/settings/tokens/([0-9a-f-]{36})"`)
	credentialIDRe = regexp.MustCompile(`/settings/credentials/([0-9a-f-]{36})/edit`)
)

// Every console page fits at 360, 768 and 1280 px, in both languages and
// both colour schemes: no horizontal scrolling, with data on every page
// (long user agents, tokens with every scope, credentials, notifications,
// security log entries, an admin list with deleted and disabled accounts).
// One browser; each page is loaded once per language and measured at
// every width and scheme.
func TestConsolePagesFitEveryWidth(t *testing.T) {
	const longName = "gracebrewstermurrayhopperofthenavy1906" // a configured admin too, with the longest name
	a, srv := testenv.App(t, app.Config{Admins: []string{"margaret", longName}}, "")
	const password = "correct7horse"
	meta := events.Metadata{CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1"}

	// Data on every page.
	signUp(t, srv, "margaret")
	ada := signUp(t, srv, "ada")
	expect(t, ada.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada.lovelace.countess.of.lovelace@analytical-engines.example.com"},
		"full_name": {"Augusta Ada King, Countess of Lovelace"}, "description": {"Analyst of the Analytical Engine, author of the first published " +
			"algorithm intended for such a machine; Notegsbythetranslatorwithoutanyspacesatallforquitealongwhile and more."},
		"preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	expect(t, ada.upload(smallPNG(t, 64)), http.StatusSeeOther)
	expect(t, ada.post("/reauth", url.Values{"current_password": {password}}), http.StatusSeeOther)
	scopes := a.Commands.Scopes().Names()
	expires := time.Now().AddDate(0, 0, 30).Format("2006-01-02")
	for _, title := range []string{"CI deploys to the production cluster of the analytical engine", "every scope", "Notesbythetranslatorwithoutanyspacesatallforquitealongwhile"} {
		expect(t, ada.post("/settings/tokens/new", url.Values{"title": {title}, "expires": {expires}, "scopes": scopes, "enabled": {"on"}}), http.StatusSeeOther)
	}
	expect(t, ada.post("/settings/credentials/new", url.Values{"service": {"git"}, "url": {"https://git.analytical-engines.example.com/countess-of-lovelace/notes-on-the-engine.git"},
		"username": {"ada.lovelace.countess.of.lovelace"}, "secret": {"ghp-" + strings.Repeat("Secret0123456789", 6)},
		"note": {"the deploy bot of the analytical engine, rotated every quarter by the operations team"}}), http.StatusSeeOther)
	expect(t, ada.post("/settings/password", url.Values{"current_password": {password}, "new_password": {password + "!"}, "confirm_password": {password + "!"}}), http.StatusSeeOther)
	expect(t, ada.post("/settings/password", url.Values{"current_password": {password + "!"}, "new_password": {password}, "confirm_password": {password}}), http.StatusSeeOther)
	// After the password changes, which end the other sessions.
	for _, agent := range longAgents {
		apiSignInAs(t, srv.URL, "ada", password, agent)
	}
	register := func(name string) string {
		t.Helper()
		res, err := a.Commands.RegisterUser(t.Context(), commands.RegisterUser{Username: name, Password: password}, meta)
		if err != nil {
			t.Fatal(err)
		}
		return res.User.ID
	}
	gone := register("countess")
	if _, err := a.Commands.DeleteUser(t.Context(), commands.DeleteUser{UserID: gone, ByAdmin: true}, meta); err != nil {
		t.Fatal(err)
	}
	register("countess")
	if _, err := a.Commands.DisableUser(t.Context(), commands.DisableUser{UserID: register(longName)}, meta); err != nil {
		t.Fatal(err)
	}
	var tokenID, credentialID string
	deadline := time.Now().Add(10 * time.Second)
	for (tokenID == "" || credentialID == "") && time.Now().Before(deadline) {
		if m := tokenIDRe.FindStringSubmatch(ada.get("/settings/tokens").body); m != nil {
			tokenID = m[1]
		}
		if m := credentialIDRe.FindStringSubmatch(ada.get("/settings/credentials").body); m != nil {
			credentialID = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if tokenID == "" || credentialID == "" {
		t.Fatalf("token %q, credential %q", tokenID, credentialID)
	}
	adaID := idOf(t, a, "ada")
	graceID := idOf(t, a, longName)

	s := newSession(t, srv)
	start := time.Now()
	var measured int
	for _, lang := range []string{"en", "tr"} {
		s.lang = lang
		if _, err := chromedp.Call(s.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"ada", "margaret"} {
			if _, err := a.Commands.UpdateProfile(t.Context(), commands.UpdateProfile{UserID: idOf(t, a, name), Change: commands.ProfileChange{"preferred_language": lang}}, meta); err != nil {
				t.Fatal(err)
			}
		}
		fits := func(path string) {
			t.Helper()
			s.do(chromedp.Navigate(s.base+path), chromedp.WaitReady(chromedp.CSS("body")))
			measured += s.fits(path)
		}
		// Signed out.
		for _, path := range []string{"/login", "/signup", "/ada", "/nobody-here"} {
			fits(path)
		}
		// A user.
		s.signIn("ada", password)
		for _, path := range []string{"/settings/profile", "/settings/password", "/settings/tokens", "/settings/tokens/" + tokenID,
			"/settings/tokens/" + tokenID + "/delete", "/settings/sessions", "/settings/credentials", "/settings/credentials/new",
			"/settings/credentials/" + credentialID + "/edit", "/settings/credentials/" + credentialID + "/delete", "/settings/notifications",
			"/notifications", "/settings/security-log", "/settings/account", "/ada", "/logout", "/reauth?next=/settings/tokens/new"} {
			fits(path)
		}
		s.do(fill("#f-current_password", password))
		s.submit(`main button[type=submit]`)
		measured += s.fits("/settings/tokens/new")
		s.do(fill("#f-title", "a token with every scope, made in the browser"))
		for i := range scopes {
			s.do(click(fmt.Sprintf("#scope-%d", i)))
		}
		s.submit(`main button[type=submit]`)
		measured += s.fits("/settings/tokens/created")
		fits("/settings/credentials")
		s.submit(`form[action$="/reveal"] button`)
		measured += s.fits("/settings/credentials (revealed)")
		s.submit(`form[action="/logout"] button`)
		// An admin.
		s.signIn("margaret", password)
		for _, path := range []string{"/admin/users", "/admin/users?status=all", "/admin/users?status=deleted", "/admin/users/" + adaID, "/admin/users/" + gone,
			"/admin/users/" + graceID} {
			fits(path)
		}
		s.submit(`form[action="/logout"] button`)
	}
	t.Logf("%d measurements in %s", measured, time.Since(start).Round(time.Millisecond))
}

// idOf is the account id of a username, from the read model.
func idOf(t *testing.T, a *app.App, name string) string {
	t.Helper()
	page, err := a.Queries.ListUsers(t.Context(), name, "all", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range page.Users {
		if u.Username == name {
			return u.ID
		}
	}
	t.Fatalf("no account %s", name)
	return ""
}

func (s *session) signIn(username, password string) {
	s.t.Helper()
	s.do(chromedp.Navigate(s.base+"/login"), chromedp.WaitReady(chromedp.CSS("body")))
	s.do(fill("#f-username", username), fill("#f-password", password))
	s.submit(`main button[type=submit]`)
	if loc := s.location(); strings.HasPrefix(loc, "/login") {
		s.t.Fatalf("%s not signed in: %s", username, s.text("main"))
	}
}

// overflowJS measures the page: how far it scrolls sideways, and the
// elements sticking out past the viewport's right edge (for the message).
const overflowJS = `(() => {
	const d = document.documentElement;
	if (d.scrollWidth <= d.clientWidth) return JSON.stringify({scroll: d.scrollWidth, client: d.clientWidth});
	const out = [];
	for (const el of document.body.querySelectorAll("*")) {
		const r = el.getBoundingClientRect();
		if ((r.right > d.clientWidth + 0.5 && r.width > 0) || (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && getComputedStyle(el).overflowX === "visible")) {
			out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : "") + " right=" + Math.round(r.right));
		}
	}
	return JSON.stringify({scroll: d.scrollWidth, client: d.clientWidth, culprits: out.slice(0, 5)});
})()`

// fits measures the loaded page at every width and scheme; it returns the
// number of measurements.
func (s *session) fits(name string) int {
	s.t.Helper()
	n := 0
	for _, width := range []int64{360, 768, 1280} {
		if _, err := chromedp.Call(s.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: 900, DeviceScaleFactor: 1}); err != nil {
			s.t.Fatal(err)
		}
		for _, scheme := range []string{"light", "dark"} {
			if _, err := chromedp.Call(s.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
				s.t.Fatal(err)
			}
			var m struct {
				Scroll, Client int
				Culprits       []string
			}
			raw := eval[string](s, overflowJS)
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				s.t.Fatalf("%s: %v", raw, err)
			}
			if m.Scroll > m.Client {
				s.t.Errorf("%s at %d px (%s, %s): scrolls sideways, %d > %d: %v", name, width, s.lang, scheme, m.Scroll, m.Client, m.Culprits)
			}
			if dir := os.Getenv("CONSOLE_WIDTH_SHOTS"); dir != "" && scheme == "light" {
				// Screenshots to look at by hand: CONSOLE_WIDTH_SHOTS=dir.
				shot, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100)) // PNG
				if err != nil {
					s.t.Fatal(err)
				}
				file := strings.NewReplacer("/", "_", "?", "_", "=", "_", " ", "_").Replace(strings.TrimPrefix(name, "/"))
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d-%s.png", file, width, s.lang)), shot, 0o644); err != nil {
					s.t.Fatal(err)
				}
			}
			n++
		}
	}
	return n
}
