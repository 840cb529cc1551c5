package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

var userLinkRe = regexp.MustCompile(`href="/admin/users/([0-9a-f-]{36})">([^<]+)</a>`)

// The console checks the role only: the configured admin keeps it after a
// rename and its page shows it; the name's next holder is refused.
func TestConsoleAdminIsAnAccountNotAName(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}}, "")
	margaret := signUp(t, srv, "margaret")
	expect(t, margaret.post("/settings/profile", url.Values{"username": {"maggie"}, "email": {"margaret@example.com"},
		"preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	impostor := signUp(t, srv, "margaret")
	expect(t, impostor.get("/admin/users"), http.StatusForbidden)

	ids := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(ids) < 2 && time.Now().Before(deadline) {
		for _, m := range userLinkRe.FindAllStringSubmatch(expect(t, margaret.get("/admin/users"), http.StatusOK).body, -1) {
			ids[m[2]] = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, want := range map[string]string{"maggie": "<dd>Admin</dd>", "margaret": "<dd>None</dd>"} {
		if ids[name] == "" {
			t.Fatalf("%s not listed: %v", name, ids)
		}
		page := expect(t, margaret.get("/admin/users/"+ids[name]), http.StatusOK).body
		if !strings.Contains(page, "<dt>Roles</dt>"+want) {
			t.Errorf("%s's page lacks its roles %s: %.2000s", name, want, page)
		}
	}
}
