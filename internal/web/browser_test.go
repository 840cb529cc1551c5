package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/i18n"
	"github.com/accountd/accountd/internal/notices"
	"github.com/accountd/accountd/internal/summary"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

// chromium finds Debian's Chromium. Without it the browser tests skip,
// except in CI (.ci/run installs it), where its absence fails them.
func chromium(t *testing.T) string {
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on this CI machine: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium here (apt-get install chromium); CI runs these tests")
	return ""
}

// session is one browser tab on the console, with the checks every page
// gets: axe-core's WCAG 2.2 AA rules and a screenshot.
type session struct {
	t     *testing.T
	ctx   context.Context
	base  string
	axe   string
	shots string
	lang  string
	// dialogs receives the message of every confirm dialog, each accepted.
	dialogs chan string
}

// screenshotDir is where screenshots go: $ARTIFACTS_DIR when CI gives one.
func screenshotDir() string {
	if dir := os.Getenv("ARTIFACTS_DIR"); dir != "" {
		return dir
	}
	return "testdata/screenshots"
}

func newSession(t *testing.T, srv *httptest.Server) *session {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"),
		// A zone other than the server's, so the prefill shows it is the browser's.
		chromedp.Env("TZ=America/Sao_Paulo"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	axe, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(screenshotDir(), "console")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Browsers treat localhost as a secure context: Secure and __Host-
	// cookies work over plain HTTP there, as for a developer.
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	s := &session{t: t, ctx: ctx, base: base, axe: string(axe), shots: shots, lang: "en", dialogs: make(chan string, 16)}
	s.do(chromedp.Navigate("about:blank"))
	// Accept confirm dialogs from another goroutine: a listener must not
	// run commands itself.
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok {
			select {
			case s.dialogs <- d.Message:
			default:
			}
			go func() {
				_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: base}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *session) do(actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, actions...); err != nil {
		s.t.Fatal(err)
	}
}

func eval[T any](s *session, expr string) T {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		s.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// page opens path, checks it, and names its screenshot.
func (s *session) page(path, name string) {
	s.t.Helper()
	s.do(chromedp.Navigate(s.base+path), chromedp.WaitReady(chromedp.CSS("body")))
	s.check(name)
}

// check runs axe-core on the page as it is, in the light and the dark
// colour scheme, and writes a screenshot of each.
func (s *session) check(name string) {
	s.t.Helper()
	s.do(chromedp.Evaluate[chromedp.Void](s.axe))
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(s.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			s.t.Fatal(err)
		}
		raw := eval[string](s, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
			.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3)}))))`)
		var violations []struct {
			ID, Help string
			Nodes    []string
		}
		if err := json.Unmarshal([]byte(raw), &violations); err != nil {
			s.t.Fatalf("axe on %s: %v (%s)", name, err, raw)
		}
		for _, v := range violations {
			s.t.Errorf("%s (%s, %s): axe %s: %s %v", name, s.lang, scheme, v.ID, v.Help, v.Nodes)
		}
		shot, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.shots, fmt.Sprintf("%s-%s-%s.png", name, s.lang, scheme)), shot, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *session) text(sel string) string {
	s.t.Helper()
	out, err := chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		s.t.Fatalf("text of %s: %v", sel, err)
	}
	return out
}

func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		clear := fmt.Sprintf(`document.querySelector(%q).value = ""`, sel)
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](clear), chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, nil
	}
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// submit clicks and waits for the page it leads to.
func (s *session) submit(sel string) {
	s.t.Helper()
	if _, err := chromedp.RunResponse(s.ctx, click(sel)); err != nil {
		s.t.Fatalf("submit %s: %v", sel, err)
	}
	s.do(chromedp.WaitReady(chromedp.CSS("body")))
}

func (s *session) location() string {
	loc, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, s.base)
}

func writePNG(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 160, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "me.png")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// confirmed expects the confirm dialog a click opened, with this message.
func (s *session) confirmed(want string) {
	s.t.Helper()
	select {
	case got := <-s.dialogs:
		if got != want {
			s.t.Errorf("confirm dialog %q, want %q", got, want)
		}
	default:
		s.t.Errorf("no confirm dialog (want %q)", want)
	}
}

// apiSignIn starts a session through the API, as another device would.
func apiSignIn(t *testing.T, base, username, password string) string {
	res, err := http.Post(base+"/v1/sessions", "application/json", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in over the API: %d %v", res.StatusCode, err)
	}
	return out.Token
}

func apiStatus(t *testing.T, base, token string) int {
	req, _ := http.NewRequest("GET", base+"/v1/auth/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// The whole journey of the product documents, in Chromium, once in each
// language: every page checked with axe-core and photographed.
func TestConsoleInChromium(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Only this run's screenshots.
	if err := os.RemoveAll(filepath.Join(screenshotDir(), "console")); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "tr"} {
		t.Run(lang, func(t *testing.T) { journey(t, cat, lang) })
	}
}

func journey(t *testing.T, cat i18n.Catalogs, lang string) {
	_, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}}, "")
	s := newSession(t, srv)
	s.lang = lang
	say := func(code string) string { return cat.Message(lang, code, nil) }
	// Before sign-in the browser's Accept-Language picks the language;
	// signing up keeps it as the account's preferred language.
	if _, err := chromedp.Call(s.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}}); err != nil {
		t.Fatal(err)
	}
	s.page("/login", "login")
	s.page("/signup", "signup")
	s.do(fill("#f-username", "ada"), fill("#f-email", "ada@example.com"), fill("#f-password", "correct7horse"))
	s.submit(`main button[type=submit]`)
	if loc := s.location(); loc != "/settings/profile" {
		t.Fatalf("after sign-up at %s", loc)
	}
	if tz, _ := chromedp.Run(s.ctx, chromedp.Value(chromedp.CSS("#f-preferred_timezone"))); tz != "America/Sao_Paulo" {
		t.Errorf("time zone %q, not the browser's", tz)
	}
	s.check("profile")

	// An invalid profile: the error summary, linked to the field, has focus.
	s.do(fill("#f-email", "ada@"))
	s.submit(`form[action="/settings/profile"] button[type=submit]`)
	if got := s.text(".summary"); !strings.Contains(got, say("email.invalid")) {
		t.Fatalf("error summary %q", got)
	}
	if href := eval[string](s, `document.querySelector(".summary a").getAttribute("href")`); href != "#f-email" {
		t.Errorf("the summary links to %q", href)
	}
	if focused := eval[string](s, `document.activeElement.className`); focused != "summary" {
		t.Errorf("focus on %q, not the error summary", focused)
	}
	s.check("profile-error")
	s.do(fill("#f-email", "ada@example.com"), fill("#f-full_name", "Ada Lovelace"), fill("#f-description", "Analyst of the Analytical Engine"))
	s.submit(`form[action="/settings/profile"] button[type=submit]`)
	if got := s.text("[role=status]"); got != say("ui.profile.saved") {
		t.Fatalf("status %q", got)
	}
	// A picture, shown on the public page.
	s.do(chromedp.SetUploadFiles(chromedp.CSS("#f-picture"), []string{writePNG(t)}))
	s.submit(`form[action="/settings/profile/picture"] button`)
	if got := s.text("[role=status]"); got != say("ui.profile.picture_saved") {
		t.Fatalf("picture status %q", got)
	}
	// Remove it (after a confirm dialog) and upload it again.
	s.submit(`form[action="/settings/profile/picture/delete"] button`)
	s.confirmed(say("ui.profile.picture_remove_confirm"))
	if got := s.text("[role=status]"); got != say("ui.profile.picture_removed") {
		t.Fatalf("picture removal status %q", got)
	}
	s.do(chromedp.SetUploadFiles(chromedp.CSS("#f-picture"), []string{writePNG(t)}))
	s.submit(`form[action="/settings/profile/picture"] button`)
	s.page("/ada", "public")
	natural := eval[int](s, `(async () => { const i = document.querySelector("img.avatar"); if (!i) return 0; await i.decode(); return i.naturalWidth; })()`)
	if natural != 300 || s.text("h1") != "Ada Lovelace" {
		t.Fatalf("public page: picture %d wide, h1 %q", natural, s.text("h1"))
	}

	// The password.
	s.page("/settings/password", "password")
	s.do(fill("#f-current_password", "correct7horse"), fill("#f-new_password", "battery7staple"), fill("#f-confirm_password", "battery7staple"))
	s.submit(`main button[type=submit]`)
	if got := s.text("[role=status]"); got != say("ui.password.saved") {
		t.Fatalf("password status %q", got)
	}

	// A token: confirm the password, generate, copy, use, disable, delete.
	s.page("/settings/tokens", "tokens-empty")
	s.page("/reauth?next=/settings/tokens/new", "reauth")
	s.do(fill("#f-current_password", "battery7staple"))
	s.submit(`main button[type=submit]`)
	if loc := s.location(); loc != "/settings/tokens/new" {
		t.Fatalf("after re-authentication at %s", loc)
	}
	s.check("token-new")
	s.do(fill("#f-title", "CI deploys"), click(`input[value="profile:read"]`))
	s.submit(`main button[type=submit]`)
	token := strings.TrimSpace(s.text("#new-token"))
	if !strings.HasPrefix(token, "acp_") || !strings.Contains(s.text("main"), say("ui.token_created.once")) {
		t.Fatalf("created page: %s", s.text("main"))
	}
	if strings.Contains(s.location(), token) {
		t.Fatal("the token is in the URL")
	}
	s.check("token-created")
	s.do(click(`button[data-copy]`))
	clip := ""
	for range 50 {
		if clip = eval[string](s, `navigator.clipboard.readText()`); clip != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.text("#copied"); got != say("ui.copied") {
		t.Errorf("copy status %q", got)
	}
	if clip != token {
		t.Errorf("clipboard %q, want the token", clip)
	}
	if code := apiStatus(t, srv.URL, token); code != http.StatusOK {
		t.Fatalf("the token against the API: %d", code)
	}
	// Shown once: reloading the page does not show it again.
	s.do(chromedp.Reload())
	if strings.Contains(s.text("body"), token) {
		t.Fatal("the token is shown twice")
	}
	s.page("/settings/tokens", "tokens")
	s.submit(`table a`)
	s.check("token")
	s.submit(`form[action$="/enabled"] button`)
	if code := apiStatus(t, srv.URL, token); code != http.StatusUnauthorized {
		t.Fatalf("a disabled token against the API: %d", code)
	}
	s.submit(`a.danger`)
	s.check("token-delete")
	s.submit(`main form button.danger`)
	if got := s.text("main"); !strings.Contains(got, say("ui.tokens.none")) {
		t.Fatalf("after delete: %s", got)
	}

	// Sessions, credentials, notifications, the security log, the account.
	phone, laptop := apiSignIn(t, srv.URL, "ada", "battery7staple"), apiSignIn(t, srv.URL, "ada", "battery7staple")
	s.page("/settings/sessions", "sessions")
	if n := eval[int](s, `document.querySelectorAll("form[action$='/end'] button").length`); n != 2 {
		t.Fatalf("%d other sessions listed, want 2", n)
	}
	s.submit(`form[action$="/end"] button`)
	if got := s.text("[role=status]"); got != say("ui.sessions.ended") {
		t.Fatalf("end one session: %q", got)
	}
	s.submit(`form[action="/settings/sessions/end-others"] button`)
	s.confirmed(say("ui.sessions.end_others_confirm"))
	if got := s.text("[role=status]"); got != say("ui.sessions.ended_others") {
		t.Fatalf("end the other sessions: %q", got)
	}
	for _, token := range []string{phone, laptop} {
		if code := apiStatus(t, srv.URL, token); code != http.StatusUnauthorized {
			t.Errorf("an ended session against the API: %d", code)
		}
	}
	s.page("/settings/credentials/new", "credential-new")
	s.do(fill("#f-service", "git"), fill("#f-url", "https://git.example.com"), fill("#f-username", "ada"), fill("#f-secret", "ghp-Browser-Secret-1"))
	s.submit(`main button[type=submit]`)
	s.check("credentials")
	if strings.Contains(s.text("main"), "ghp-Browser-Secret-1") {
		t.Fatal("the secret is shown without a reveal")
	}
	s.submit(`form[action$="/reveal"] button`)
	if strings.HasPrefix(s.location(), "/reauth") || !strings.Contains(s.text("main"), "ghp-Browser-Secret-1") {
		t.Fatalf("reveal: at %s: %s", s.location(), s.text("main"))
	}
	s.check("credential-revealed")
	s.submit(`a[href$="/edit"]`)
	s.check("credential-edit")
	s.do(fill("#f-note", "the deploy bot"))
	s.submit(`main button[type=submit]`)
	if !strings.Contains(s.text("main"), "the deploy bot") {
		t.Fatalf("credential edit: %s", s.text("main"))
	}
	s.submit(`a[href$="/delete"]`)
	s.check("credential-delete")
	s.submit(`main form button.danger`)
	if got := s.text("[role=status]"); got != say("ui.credentials.deleted") || !strings.Contains(s.text("main"), say("ui.credentials.none")) {
		t.Fatalf("credential delete: %q: %s", got, s.text("main"))
	}
	s.page("/settings/notifications", "notification-settings")
	s.do(click(`#f-product-in_app`))
	s.submit(`main button[type=submit]`)
	if got := s.text("[role=status]"); got != say("ui.notification_settings.saved") {
		t.Fatalf("notification settings status %q", got)
	}
	s.page("/notifications", "notifications")
	if got := s.text("main"); !strings.Contains(got, notices.Title(notices.PasswordChanged, lang, nil)) {
		t.Fatalf("feed: %s", got)
	}
	s.submit(`form[action="/notifications/read-all"] button`)
	if got := s.text("[role=status]"); got != say("ui.notifications.marked_all") {
		t.Fatalf("mark all read: %q", got)
	}
	s.page("/settings/security-log", "security-log")
	if got := s.text("main"); !strings.Contains(got, summary.Text(projections.AuditEntry{Type: "user.password_changed"}, lang, time.UTC)) {
		t.Fatalf("security log: %s", got)
	}
	s.page("/settings/account", "account")
	s.page("/nobody-here", "not-found")

	// The admin pages.
	s.submit(`form[action="/logout"] button`)
	s.page("/signup", "signup")
	s.do(fill("#f-username", "margaret"), fill("#f-password", "correct7horse"))
	s.submit(`main button[type=submit]`)
	s.page("/admin/users?q=ad", "admin-users")
	s.submit(`table a`)
	s.check("admin-user")
	s.do(fill("#f-department", "Analytical Engines"), click(`#f-display_name_locked`))
	s.submit(`form[action^="/admin/users/"] button[type=submit]`)
	if got := s.text("[role=status]"); got != say("ui.admin_user.saved") {
		t.Fatalf("admin fields status %q", got)
	}
	s.submit(`form[action$="/disable"] button`)
	s.confirmed(say("ui.admin_user.disable_confirm"))
	if !strings.Contains(s.text("main"), say("ui.status.disabled")) {
		t.Fatalf("admin disable: %s", s.text("main"))
	}
	s.submit(`form[action$="/enable"] button`)
	if !strings.Contains(s.text("main"), say("ui.status.active")) {
		t.Fatalf("admin enable: %s", s.text("main"))
	}

	// Ada signs in again and deletes her account from the danger zone.
	s.submit(`form[action="/logout"] button`)
	if got := s.text("[role=status]"); got != say("ui.logout.done") {
		t.Fatalf("after sign-out: %q", got)
	}
	s.do(fill("#f-username", "ada"), fill("#f-password", "battery7staple"))
	s.submit(`main button[type=submit]`)
	s.page("/settings/account", "account")
	s.submit(`form[action="/settings/account/delete"] button`)
	if got := s.text(".summary"); !strings.Contains(got, say("ui.account.confirm_required")) {
		t.Fatalf("delete without the box ticked: %q", got)
	}
	s.check("account-error")
	s.do(click("#f-confirm"))
	s.submit(`form[action="/settings/account/delete"] button`)
	if loc, got := s.location(), s.text("[role=status]"); loc != "/login" || got != say("ui.account.deleted") {
		t.Fatalf("after deletion at %s: %q", loc, got)
	}
	s.page("/ada", "deleted-profile")
	if got := s.text("h1"); got != say("ui.public.not_found") {
		t.Fatalf("the deleted account's page: %q", got)
	}
	t.Logf("screenshots in %s", s.shots)
}

// Keyboard only: sign in and create a token without a pointer.
func TestConsoleByKeyboard(t *testing.T) {
	_, srv := testenv.App(t, app.Config{}, "")
	b := newBrowser(t, srv)
	b.post("/signup", map[string][]string{"username": {"grace"}, "password": {"correct7horse"}})
	s := newSession(t, srv)
	s.do(chromedp.Navigate(s.base+"/login"), chromedp.WaitReady(chromedp.CSS("body")))
	focus := func() string {
		return eval[string](s, `document.activeElement.id || document.activeElement.textContent.trim()`)
	}
	tabTo := func(want string) {
		t.Helper()
		for range 40 {
			s.do(chromedp.KeyEvent(kb.Tab))
			if focus() == want {
				return
			}
		}
		t.Fatalf("Tab never reached %q (at %q)", want, focus())
	}
	tabTo("f-username")
	s.do(chromedp.KeyEvent("grace"))
	tabTo("f-password")
	s.do(chromedp.KeyEvent("correct7horse"), chromedp.KeyEvent(kb.Enter), chromedp.WaitReady(chromedp.CSS("#f-full_name")))
	if loc := s.location(); loc != "/settings/profile" {
		t.Fatalf("signed in by keyboard at %s", loc)
	}
	// The focus ring is visible.
	tabTo("Access tokens")
	outline := eval[string](s, `getComputedStyle(document.activeElement).outlineStyle`)
	if outline == "none" || outline == "" {
		t.Errorf("no visible focus: outline %q", outline)
	}
	s.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitReady(chromedp.CSS(`a[href="/settings/tokens/new"]`)))
	tabTo("New Access Token")
	s.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitReady(chromedp.CSS("#f-title")))
	tabTo("f-title")
	s.do(chromedp.KeyEvent("keyboard"))
	tabTo("scope-0")
	s.do(chromedp.KeyEvent(" "))
	tabTo("Generate token")
	s.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitReady(chromedp.CSS("#new-token")))
	if !strings.HasPrefix(strings.TrimSpace(s.text("#new-token")), "acp_") {
		t.Fatalf("no token after the keyboard journey: %s", s.text("main"))
	}
}
