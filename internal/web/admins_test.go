package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
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
	// The role says where it came from.
	for name, want := range map[string]string{"maggie": `<dd>Admin <span class="muted">(by configuration: <code class="cfg"><span class="nobr">--admin</span> margaret</code>)</span></dd>`, "margaret": "<dd>None</dd>"} {
		if ids[name] == "" {
			t.Fatalf("%s not listed: %v", name, ids)
		}
		page := expect(t, margaret.get("/admin/users/"+ids[name]), http.StatusOK).body
		if !strings.Contains(page, "<dt>Roles</dt>"+want) {
			t.Errorf("%s's page lacks its roles %s: %.2000s", name, want, page)
		}
	}
}

// adminRow is one account as the admin list shows it.
type adminRow struct{ username, status, roles string }

// adminList reads the rows of the admin list's table.
func adminList(t *testing.T, body string) []adminRow {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var rows []adminRow
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Data != "tr" || n.Parent == nil || n.Parent.Data != "tbody" {
			continue
		}
		var cells []string
		for c := range n.ChildNodes() {
			if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
				cells = append(cells, strings.Join(strings.Fields(textOf(c)), " "))
			}
		}
		if len(cells) < 3 {
			t.Fatalf("row %v", cells)
		}
		rows = append(rows, adminRow{username: cells[0], status: cells[1], roles: cells[2]})
	}
	return rows
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// The admin list shows active accounts unless asked for the others, marks
// each account's standing, and says where an admin's role came from (the
// issue: a deleted "countess" beside the new one, nothing to tell them
// apart; a configured admin without its role).
func TestConsoleAdminListFiltersAndMarks(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}}, "")
	margaret := signUp(t, srv, "margaret")
	meta := events.Metadata{CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1"}
	idOf := func(name string) string {
		t.Helper()
		u, err := a.Commands.RegisterUser(t.Context(), commands.RegisterUser{Username: name, Password: "correct7horse"}, meta)
		if err != nil {
			t.Fatal(err)
		}
		return u.User.ID
	}
	old, grace := idOf("countess"), idOf("grace")
	if _, err := a.Commands.DeleteUser(t.Context(), commands.DeleteUser{UserID: old, ByAdmin: true}, meta); err != nil {
		t.Fatal(err)
	}
	idOf("countess")
	if _, err := a.Commands.DisableUser(t.Context(), commands.DisableUser{UserID: grace}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.GrantRole(t.Context(), commands.GrantRole{UserID: idOf("ada"), Role: events.RoleAdmin}, meta); err != nil {
		t.Fatal(err)
	}
	list := func(query string) []adminRow {
		return adminList(t, expect(t, margaret.get("/admin/users"+query), http.StatusOK).body)
	}
	active := []adminRow{{"ada", "Active", "Admin (granted by an admin)"}, {"countess", "Active", "None"},
		{"margaret", "Active", "Admin (by configuration: --admin margaret)"}}
	byName := func(rows []adminRow) []adminRow {
		slices.SortFunc(rows, func(a, b adminRow) int { return strings.Compare(a.username+a.status, b.username+b.status) })
		return rows
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(byName(list("?status=all")), byName(append(slices.Clone(active), adminRow{"countess", "Deleted (erased)", "None"},
		adminRow{"grace", "Disabled", "None"}))) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	tests := []struct {
		name, query string
		want        []adminRow
	}{
		{"by default only active accounts", "", active},
		{"active, asked for", "?status=active", active},
		{"disabled", "?status=disabled", []adminRow{{"grace", "Disabled", "None"}}},
		{"deleted, marked", "?status=deleted", []adminRow{{"countess", "Deleted (erased)", "None"}}},
		{"all, each marked", "?status=all&q=countess", []adminRow{{"countess", "Active", "None"}, {"countess", "Deleted (erased)", "None"}}},
		{"an unknown status shows the default", "?status=gone", active},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := byName(list(tt.query)); !slices.Equal(got, byName(tt.want)) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// The filter is a control on the page, keeping its choice.
	body := expect(t, margaret.get("/admin/users?status=deleted"), http.StatusOK).body
	if !strings.Contains(body, `<select id="f-status" name="status">`) || !strings.Contains(body, `<option value="deleted" selected>`) {
		t.Errorf("no status filter control: %.3000s", body)
	}
}
