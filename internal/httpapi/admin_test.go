package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/testenv"
)

// whoami is the caller's user id.
func whoami(c *client) string {
	c.t.Helper()
	return c.expect(http.StatusOK, c.do("GET", "/v1/auth/whoami", nil)).json(c.t)["user_id"].(string)
}

func problemType(t *testing.T, r response) string {
	t.Helper()
	typ, _ := r.problem(t)
	return typ
}

// adminWorld is a service with a configured admin ("root") and a user.
type adminWorld struct {
	a          *app.App
	srv        *httptest.Server
	admin, ada *client
	adaID      string
}

func newAdminWorld(t *testing.T) adminWorld {
	a, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}}, "")
	admin := signUp(t, srv, "margaret", nil)
	ada := signUp(t, srv, "ada", map[string]any{"email": "ada@example.com", "full_name": "Ada Lovelace"})
	return adminWorld{a: a, srv: srv, admin: admin, ada: ada, adaID: whoami(ada)}
}

// Who may call what: own account, another user, tokens with and without
// the scope, admins (sessions only), a disabled account, nobody.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	anon := &client{t: t, base: w.srv.URL}
	bob := signUp(t, w.srv, "bob", nil)
	withScope, _ := newToken(t, w.ada, "credentials:write")
	withoutScope, _ := newToken(t, w.ada, "profile:read")
	adminToken, _ := newToken(t, w.admin, "profile:read", "credentials:read")
	cred := w.ada.expect(http.StatusCreated, w.ada.do("POST", "/v1/me/credentials", map[string]any{
		"service": "git", "url": "https://git.example.com", "username": "ada", "secret": "ghp-Example-Secret-1"})).json(t)
	credPath := "/v1/me/credentials/" + cred["id"].(string)
	adminPath := "/v1/admin/users/" + w.adaID

	for _, tt := range []struct {
		name         string
		who          *client
		method, path string
		body         any
		want         int
		problem      string
	}{
		{"nobody lists credentials", anon, "GET", "/v1/me/credentials", nil, 401, "/problems/unauthorized"},
		{"the owner lists them", w.ada, "GET", "/v1/me/credentials", nil, 200, ""},
		{"a token with the scope (write implies read)", withScope, "GET", "/v1/me/credentials", nil, 200, ""},
		{"a token without it", withoutScope, "GET", "/v1/me/credentials", nil, 403, "/problems/insufficient_scope"},
		{"another user cannot see the credential", bob, "GET", credPath, nil, 404, "/problems/not_found"},
		{"another user cannot delete it", bob, "DELETE", credPath, nil, 404, "/problems/not_found"},
		{"a token cannot reveal, whatever its scopes", withScope, "POST", credPath + "/reveal", map[string]any{"current_password": "correct7horse"}, 403, "/problems/session_required"},
		{"nobody reaches admin routes", anon, "GET", adminPath, nil, 401, "/problems/unauthorized"},
		{"a user is no admin", bob, "GET", adminPath, nil, 403, "/problems/admin_required"},
		{"a user cannot list accounts", w.ada, "GET", "/v1/admin/users", nil, 403, "/problems/admin_required"},
		{"an admin's token is no admin", adminToken, "GET", adminPath, nil, 403, "/problems/session_required"},
		{"an admin reads the account", w.admin, "GET", adminPath, nil, 200, ""},
		{"an admin reads its credentials", w.admin, "GET", adminPath + "/credentials", nil, 200, ""},
		{"an admin reads its tokens", w.admin, "GET", adminPath + "/tokens", nil, 200, ""},
		{"an admin reads its sessions", w.admin, "GET", adminPath + "/sessions", nil, 200, ""},
		{"an admin reads its security log", w.admin, "GET", adminPath + "/audit", nil, 200, ""},
		{"an unknown account is 404", w.admin, "GET", "/v1/admin/users/6ba7b810-9dad-11d1-80b4-00c04fd430c8", nil, 404, "/problems/not_found"},
		{"a malformed id is 404", w.admin, "GET", "/v1/admin/users/nope", nil, 404, "/problems/not_found"},
		{"a user cannot set an admin-only field", w.ada, "PATCH", "/v1/me", map[string]any{"department": "R&D"}, 403, "/problems/admin_field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.who.expect(tt.want, tt.who.do(tt.method, tt.path, tt.body))
			if tt.problem != "" {
				if got := problemType(t, r); got != tt.problem {
					t.Fatalf("problem %s, want %s", got, tt.problem)
				}
			}
		})
	}

	// A disabled account: its sessions ended, its tokens refused.
	w.admin.expect(http.StatusOK, w.admin.do("POST", adminPath+"/disable", nil))
	if got := problemType(t, w.ada.expect(http.StatusUnauthorized, w.ada.do("GET", "/v1/me/credentials", nil))); got != "/problems/unauthorized" {
		t.Fatalf("disabled account's session: %s", got)
	}
	if got := problemType(t, withScope.expect(http.StatusForbidden, withScope.do("GET", "/v1/me/credentials", nil))); got != "/problems/account_disabled" {
		t.Fatalf("disabled account's token: %s", got)
	}
}

// Disabling takes effect on the very next request: the account's sessions
// end for good, its tokens are refused until it is enabled again.
func TestDisableRefusesTheNextRequest(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	pat, _ := newToken(t, w.ada, "profile:read")
	anon := &client{t: t, base: w.srv.URL}
	path := "/v1/admin/users/" + w.adaID
	w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me", nil))
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me", nil))

	disabled := w.admin.expect(http.StatusOK, w.admin.do("POST", path+"/disable", nil)).json(t)
	if disabled["status"] != "disabled" {
		t.Fatalf("after disable: %v", disabled)
	}
	w.ada.expect(http.StatusUnauthorized, w.ada.do("GET", "/v1/me", nil))
	pat.expect(http.StatusForbidden, pat.do("GET", "/v1/me", nil))
	signIn := anon.expect(http.StatusForbidden, anon.do("POST", "/v1/sessions", map[string]any{"username": "ada", "password": "correct7horse"}))
	if problemType(t, signIn) != "/problems/account_disabled" {
		t.Fatalf("sign-in of a disabled account: %s", signIn.body)
	}
	anon.expect(http.StatusNotFound, anon.do("GET", "/v1/profiles/ada", nil))
	if got := w.admin.expect(http.StatusOK, w.admin.do("GET", path, nil)).json(t); got["status"] != "disabled" || got["email"] != "ada@example.com" {
		t.Fatalf("admin view %v", got)
	}
	// An admin cannot lock themselves out.
	rootPath := "/v1/admin/users/" + whoami(w.admin)
	if problemType(t, w.admin.expect(http.StatusConflict, w.admin.do("POST", rootPath+"/disable", nil))) != "/problems/disable_self" {
		t.Fatal("an admin disabled their own account")
	}

	w.admin.expect(http.StatusOK, w.admin.do("POST", path+"/enable", nil))
	w.ada.expect(http.StatusUnauthorized, w.ada.do("GET", "/v1/me", nil)) // the ended session stays ended
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me", nil))
	again := anon.expect(http.StatusCreated, anon.do("POST", "/v1/sessions", map[string]any{"username": "ada", "password": "correct7horse"})).json(t)
	ada := &client{t: t, base: w.srv.URL, token: again["token"].(string)}
	anon.expect(http.StatusOK, anon.do("GET", "/v1/profiles/ada", nil))

	// The owner sees who did it in their own security log.
	entries := ada.expect(http.StatusOK, ada.do("GET", "/v1/me/audit?type=user.", nil)).json(t)["entries"].([]any)
	var types []string
	rootID := whoami(w.admin)
	for _, e := range entries {
		m := e.(map[string]any)
		if m["type"] == "user.disabled" || m["type"] == "user.enabled" {
			if m["actor"] != rootID {
				t.Fatalf("%s by %v, want the admin %s", m["type"], m["actor"], rootID)
			}
			types = append(types, m["type"].(string))
		}
	}
	if !slices.Equal(types, []string{"user.enabled", "user.disabled"}) {
		t.Fatalf("security log %v", types)
	}
}

func TestAdminOnlyFieldsAndLockedName(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	path := "/v1/admin/users/" + w.adaID
	got := w.admin.expect(http.StatusOK, w.admin.do("PATCH", path, map[string]any{
		"employee_id": "E-42", "department": "Analytical Engines", "display_name_locked": true, "description": "set by an admin"})).json(t)
	if got["employee_id"] != "E-42" || got["display_name_locked"] != true || got["description"] != "set by an admin" {
		t.Fatalf("admin patch %v", got)
	}
	me := w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me", nil)).json(t)
	if me["employee_id"] != "E-42" || me["department"] != "Analytical Engines" || me["display_name_locked"] != true {
		t.Fatalf("the user reads %v", me)
	}
	r := w.ada.expect(http.StatusForbidden, w.ada.do("PATCH", "/v1/me", map[string]any{"full_name": "Augusta"}))
	if typ, codes := r.problem(t); typ != "/problems/field_locked" || !slices.Equal(codes, []string{"full_name:full_name.locked"}) {
		t.Fatalf("locked name: %s %v", typ, codes)
	}
	r = w.ada.expect(http.StatusForbidden, w.ada.do("PATCH", "/v1/me", map[string]any{"employee_id": "me", "display_name_locked": false}))
	if typ, codes := r.problem(t); typ != "/problems/admin_field" || !slices.Equal(codes, []string{"employee_id:field.admin_only", "display_name_locked:field.admin_only"}) {
		t.Fatalf("admin field: %s %v", typ, codes)
	}
	// Other fields stay the user's; the admin may change the locked one.
	w.ada.expect(http.StatusOK, w.ada.do("PATCH", "/v1/me", map[string]any{"description": "mine again"}))
	if got := w.admin.expect(http.StatusOK, w.admin.do("PATCH", path, map[string]any{"full_name": "Augusta Ada King"})).json(t); got["full_name"] != "Augusta Ada King" {
		t.Fatalf("admin rename %v", got)
	}
	w.admin.expect(http.StatusUnprocessableEntity, w.admin.do("PATCH", path, map[string]any{"employee_id": strings.Repeat("x", 65)}))
	// Listing and searching, by username or e-mail prefix, any case.
	signUp(t, w.srv, "adam", map[string]any{"email": "adam@example.org"})
	list := func(q string) []string {
		var names []string
		for _, u := range w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/users?q="+q, nil)).json(t)["users"].([]any) {
			names = append(names, u.(map[string]any)["username"].(string))
		}
		slices.Sort(names)
		return names
	}
	eventually(t, "adam listed", func() bool { return slices.Equal(list("AD"), []string{"ada", "adam"}) })
	if got := list("adam%40"); !slices.Equal(got, []string{"adam"}) {
		t.Fatalf("q=adam@: %v", got)
	}
	if got := list(".*"); len(got) != 0 {
		t.Fatalf("a pattern is not a prefix: %v", got)
	}
	page := w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/users?limit=2", nil)).json(t)
	next, _ := page["next_cursor"].(string)
	rest := w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/users?limit=2&cursor="+next, nil)).json(t)
	if len(page["users"].([]any)) != 2 || len(rest["users"].([]any)) != 1 || rest["next_cursor"] != nil {
		t.Fatalf("pages %v / %v", page, rest)
	}
	w.admin.expect(http.StatusUnprocessableEntity, w.admin.do("GET", "/v1/admin/users?cursor=zzz", nil))
}

func TestGrantAndRevokeAdminRole(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	grace := signUp(t, w.srv, "grace", nil)
	graceID := whoami(grace)
	rolePath := "/v1/admin/users/" + graceID + "/roles/admin"
	grace.expect(http.StatusForbidden, grace.do("GET", "/v1/admin/users", nil))
	if got := w.admin.expect(http.StatusOK, w.admin.do("PUT", rolePath, nil)).json(t)["roles"].([]any); len(got) != 1 || got[0] != "admin" {
		t.Fatalf("roles %v", got)
	}
	grace.expect(http.StatusOK, grace.do("GET", "/v1/admin/users", nil)) // the very next request
	w.admin.expect(http.StatusNotFound, w.admin.do("PUT", "/v1/admin/users/"+graceID+"/roles/owner", nil))
	// The configured admin holds the role by a recorded grant, like
	// anyone: she may give it up while grace holds it too, and then she is
	// no admin (her name in the configuration does not count).
	w.admin.expect(http.StatusOK, w.admin.do("DELETE", "/v1/admin/users/"+whoami(w.admin)+"/roles/admin", nil))
	w.admin.expect(http.StatusForbidden, w.admin.do("GET", "/v1/admin/users", nil))
	// Grace is the only one holding the role: she cannot give it up...
	if problemType(t, grace.expect(http.StatusConflict, grace.do("DELETE", rolePath, nil))) != "/problems/last_admin" {
		t.Fatal("the last admin revoked their own role")
	}
	// ...until someone else holds it.
	grace.expect(http.StatusOK, grace.do("PUT", "/v1/admin/users/"+w.adaID+"/roles/admin", nil))
	grace.expect(http.StatusOK, grace.do("DELETE", rolePath, nil))
	grace.expect(http.StatusForbidden, grace.do("GET", "/v1/admin/users", nil))
	w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/admin/users", nil))
}

func TestDeleteAccountErasesIt(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	pat, _ := newToken(t, w.ada, "profile:read")
	anon := &client{t: t, base: w.srv.URL}
	w.ada.expect(http.StatusOK, w.ada.do("PATCH", "/v1/me", map[string]any{"description": "First programmer"}))
	w.ada.expect(http.StatusCreated, w.ada.do("POST", "/v1/me/credentials", map[string]any{
		"service": "git", "url": "https://git.example.com", "secret": "ghp-Erase-Me-1"}))

	w.ada.expect(http.StatusUnprocessableEntity, w.ada.do("DELETE", "/v1/me", map[string]any{}))
	w.ada.expect(http.StatusForbidden, w.ada.do("DELETE", "/v1/me", map[string]any{"current_password": "wrong7horse"}))
	pat.expect(http.StatusForbidden, pat.do("DELETE", "/v1/me", map[string]any{"current_password": "correct7horse"}))
	w.ada.expect(http.StatusNoContent, w.ada.do("DELETE", "/v1/me", map[string]any{"current_password": "correct7horse"}))

	w.ada.expect(http.StatusUnauthorized, w.ada.do("GET", "/v1/me", nil))
	pat.expect(http.StatusUnauthorized, pat.do("GET", "/v1/me", nil))
	anon.expect(http.StatusUnauthorized, anon.do("POST", "/v1/sessions", map[string]any{"username": "ada", "password": "correct7horse"}))
	anon.expect(http.StatusNotFound, anon.do("GET", "/v1/profiles/ada", nil))
	// The name is free at once.
	signUp(t, w.srv, "ada", nil)

	path := "/v1/admin/users/" + w.adaID
	var got map[string]any
	eventually(t, "the read model shows the deletion", func() bool {
		got = w.admin.expect(http.StatusOK, w.admin.do("GET", path, nil)).json(t)
		return got["status"] == "deleted"
	})
	if got["email"] != "" || got["full_name"] != "" || got["description"] != "" {
		t.Fatalf("a deleted account still shows %v", got)
	}
	if creds := w.admin.expect(http.StatusOK, w.admin.do("GET", path+"/credentials", nil)).json(t)["credentials"].([]any); len(creds) != 0 {
		t.Fatalf("credentials left: %v", creds)
	}
	eventually(t, "every session ended", func() bool {
		return len(w.admin.expect(http.StatusOK, w.admin.do("GET", path+"/sessions", nil)).json(t)["sessions"].([]any)) == 0
	})
	if toks := w.admin.expect(http.StatusOK, w.admin.do("GET", path+"/tokens", nil)).json(t)["tokens"].([]any); len(toks) != 0 {
		t.Fatalf("tokens left: %v", toks)
	}
	// The security log keeps what happened, with the personal values erased.
	entries := w.admin.expect(http.StatusOK, w.admin.do("GET", path+"/audit", nil)).json(t)["entries"].([]any)
	erased, deleted := 0, false
	for _, e := range entries {
		m := e.(map[string]any)
		deleted = deleted || m["type"] == "user.deleted"
		for _, c := range m["changes"].([]any) {
			ch := c.(map[string]any)
			if ch["erased"] == true {
				erased++
				if ch["to"] != "" || ch["from"] != "" {
					t.Fatalf("an erased change shows %v", ch)
				}
			}
		}
		if strings.Contains(m["summary"].(string), "Lovelace") || strings.Contains(m["summary"].(string), "ada@example.com") {
			t.Fatalf("the summary shows erased data: %v", m["summary"])
		}
	}
	if !deleted || erased < 3 {
		t.Fatalf("audit after deletion: deleted %v, %d erased changes in %v", deleted, erased, entries)
	}
	// An admin deletes another account without its password.
	bob := signUp(t, w.srv, "bob", nil)
	w.admin.expect(http.StatusNoContent, w.admin.do("DELETE", "/v1/admin/users/"+whoami(bob), nil))
	bob.expect(http.StatusUnauthorized, bob.do("GET", "/v1/me", nil))
	w.admin.expect(http.StatusNotFound, w.admin.do("DELETE", "/v1/admin/users/"+whoami(w.admin)[:8], nil))
}

func TestServiceCredentials(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	const secret = "ghp-Very-Secret-Value-7"
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	created := w.ada.expect(http.StatusCreated, w.ada.do("POST", "/v1/me/credentials", map[string]any{
		"service": "git", "url": "https://git.example.com/ada", "username": "ada", "secret": secret, "note": "CI pushes", "expires_at": expires}))
	if strings.Contains(string(created.body), secret) {
		t.Fatal("the create answer echoes the secret")
	}
	c := created.json(t)
	if c["secret_set"] != true || c["provisioned_by"] != nil || c["expires_at"] == nil || created.header.Get("Location") != "/v1/me/credentials/"+c["id"].(string) {
		t.Fatalf("created %v %v", c, created.header)
	}
	path := "/v1/me/credentials/" + c["id"].(string)
	for _, body := range []string{string(w.ada.do("GET", "/v1/me/credentials", nil).body), string(w.ada.do("GET", path, nil).body)} {
		if strings.Contains(body, secret) || !strings.Contains(body, `"secret_set":true`) {
			t.Fatalf("listing shows %s", body)
		}
	}
	for _, tt := range []struct {
		name  string
		body  map[string]any
		codes []string
	}{
		{"nothing given", map[string]any{}, []string{"service:request.required", "url:request.required", "secret:request.required"}},
		{"a URL with a password in it", map[string]any{"service": "git", "url": "https://u:p@git.example.com", "secret": "x"}, []string{"url:url.invalid"}},
		{"not a URL", map[string]any{"service": "git", "url": "git.example.com", "secret": "x"}, []string{"url:url.invalid"}},
		{"expired already", map[string]any{"service": "git", "url": "https://git.example.com", "secret": "x", "expires_at": "2020-01-01T00:00:00Z"}, []string{"expires_at:expires_at.past"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, codes := w.ada.expect(http.StatusUnprocessableEntity, w.ada.do("POST", "/v1/me/credentials", tt.body)).problem(t)
			if !slices.Equal(codes, tt.codes) {
				t.Fatalf("codes %v, want %v", codes, tt.codes)
			}
		})
	}
	patched := w.ada.expect(http.StatusOK, w.ada.do("PATCH", path, map[string]any{"note": nil, "expires_at": nil, "secret": "rotated-Secret-8"})).json(t)
	if patched["note"] != "" || patched["expires_at"] != nil || patched["secret_set"] != true {
		t.Fatalf("patched %v", patched)
	}
	// Reveal: the password is checked, the answer is not cached, the log says so.
	w.ada.expect(http.StatusForbidden, w.ada.do("POST", path+"/reveal", map[string]any{"current_password": "wrong7horse"}))
	rev := w.ada.expect(http.StatusOK, w.ada.do("POST", path+"/reveal", map[string]any{"current_password": "correct7horse"}))
	if rev.json(t)["secret"] != "rotated-Secret-8" || rev.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal %s %v", rev.body, rev.header)
	}
	log := string(w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/audit?type=credential.", nil)).body)
	for _, typ := range []string{"credential.created", "credential.updated", "credential.revealed"} {
		if !strings.Contains(log, `"type":"`+typ+`"`) {
			t.Fatalf("security log lacks %s: %s", typ, log)
		}
	}
	// An admin provisions one for the user; it is marked so.
	rootID := whoami(w.admin)
	prov := w.admin.expect(http.StatusCreated, w.admin.do("POST", "/v1/admin/users/"+w.adaID+"/credentials", map[string]any{
		"service": "registry", "url": "https://registry.example.com", "secret": "provisioned-Secret-9"})).json(t)
	if prov["provisioned_by"] != rootID {
		t.Fatalf("provisioned %v", prov)
	}
	if got := w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/credentials/"+prov["id"].(string), nil)).json(t); got["provisioned_by"] != rootID {
		t.Fatalf("the user sees %v", got)
	}
	w.ada.expect(http.StatusNoContent, w.ada.do("DELETE", path, nil))
	w.ada.expect(http.StatusNotFound, w.ada.do("GET", path, nil))
	w.ada.expect(http.StatusNotFound, w.ada.do("POST", path+"/reveal", map[string]any{"current_password": "correct7horse"}))
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The attack: "--admin margaret" made admin whoever held the name,
// so after margaret renamed, a new account named margaret was admin (and
// could make others admin). Now the name is resolved once, to the first
// account holding it, as a recorded grant; the role follows that account,
// also across a restart, and nothing is recorded twice.
func TestConfiguredAdminIsAnAccountNotAName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := app.Config{Admins: []string{"margaret"}}
	a, srv := testenv.App(t, cfg, dir)
	margaret := signUp(t, srv, "margaret", nil)
	margaretID := whoami(margaret)
	margaret.expect(http.StatusOK, margaret.do("GET", "/v1/admin/users", nil))
	// The admin view shows the role (a configured admin showed none).
	if got := margaret.expect(http.StatusOK, margaret.do("GET", "/v1/admin/users/"+margaretID, nil)).json(t)["roles"]; !slices.Equal(got.([]any), []any{"admin"}) {
		t.Fatalf("roles %v", got)
	}
	// The security log says where the role came from.
	var grant map[string]any
	for _, e := range margaret.expect(http.StatusOK, margaret.do("GET", "/v1/me/audit?type=user.role_granted", nil)).json(t)["entries"].([]any) {
		grant = e.(map[string]any)
	}
	if grant == nil || grant["actor"] != "system" || !strings.Contains(grant["summary"].(string), "by configuration, as: margaret") {
		t.Fatalf("security log entry %v", grant)
	}

	margaret.expect(http.StatusOK, margaret.do("PUT", "/v1/me/username", map[string]any{"username": "maggie"}))
	margaret.expect(http.StatusOK, margaret.do("GET", "/v1/admin/users", nil))
	impostor := signUp(t, srv, "margaret", nil)
	impostorID := whoami(impostor)
	check := func(srv *httptest.Server) {
		t.Helper()
		margaret.base, impostor.base = srv.URL, srv.URL
		margaret.expect(http.StatusOK, margaret.do("GET", "/v1/admin/users", nil))
		for _, path := range []string{"/v1/admin/users", "/v1/admin/users/" + margaretID, "/v1/usernames/margaret/history"} {
			if got := problemType(t, impostor.expect(http.StatusForbidden, impostor.do("GET", path, nil))); got != "/problems/admin_required" {
				t.Fatalf("GET %s: %s", path, got)
			}
		}
		if got := problemType(t, impostor.expect(http.StatusForbidden, impostor.do("PUT", "/v1/admin/users/"+impostorID+"/roles/admin", nil))); got != "/problems/admin_required" {
			t.Fatalf("the impostor grants himself the role: %s", got)
		}
		if got := margaret.expect(http.StatusOK, margaret.do("GET", "/v1/admin/users/"+impostorID, nil)).json(t)["roles"]; len(got.([]any)) != 0 {
			t.Fatalf("the impostor's roles %v", got)
		}
	}
	check(srv)

	// A restart on the same data: the same, and no second grant.
	srv.Close()
	a.Close()
	a, srv = testenv.App(t, cfg, dir)
	check(srv)
	log := eventlog.New(a.Platform.ESDB)
	read := func(stream string) []events.Recorded {
		recs, err := log.ReadStream(t.Context(), stream, commands.NoStream)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	if got := read(events.ConfiguredAdminsStream); len(got) != 1 || got[0].Payload != (events.ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: margaretID}) {
		t.Fatalf("resolutions %+v", got)
	}
	count := func(id string) (n int) {
		for _, r := range read(events.UserStream(id)) {
			if g, ok := r.Payload.(events.UserRoleGrantedV1); ok && g.Source == events.RoleSourceConfiguration {
				n++
			}
		}
		return n
	}
	if m, i := count(margaretID), count(impostorID); m != 1 || i != 0 {
		t.Fatalf("grants by configuration: %d to margaret, %d to the impostor", m, i)
	}
}

// --admin id:<uuid> names an account by id: registered before the start,
// it is granted at start; the name it holds plays no part.
func TestConfiguredAdminByID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, srv := testenv.App(t, app.Config{}, dir)
	grace := signUp(t, srv, "grace", nil)
	graceID := whoami(grace)
	grace.expect(http.StatusForbidden, grace.do("GET", "/v1/admin/users", nil))
	srv.Close()
	a.Close()
	_, srv = testenv.App(t, app.Config{Admins: []string{"id:" + graceID, "grace2"}}, dir)
	grace.base = srv.URL
	grace.expect(http.StatusOK, grace.do("GET", "/v1/admin/users", nil))
	grace.expect(http.StatusOK, grace.do("PUT", "/v1/me/username", map[string]any{"username": "hopper"}))
	grace.expect(http.StatusOK, grace.do("GET", "/v1/admin/users", nil))
	other := signUp(t, srv, "grace", nil)
	other.expect(http.StatusForbidden, other.do("GET", "/v1/admin/users", nil))
}

// The admin list shows active accounts unless ?status= asks for others;
// each account says where its role came from (role_grants).
func TestAdminListByStatusWithRoleSources(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	grace, gone := signUp(t, w.srv, "grace", nil), signUp(t, w.srv, "countess", nil)
	graceID, goneID := whoami(grace), whoami(gone)
	w.admin.expect(http.StatusOK, w.admin.do("POST", "/v1/admin/users/"+graceID+"/disable", nil))
	w.admin.expect(http.StatusNoContent, w.admin.do("DELETE", "/v1/admin/users/"+goneID, nil))
	w.admin.expect(http.StatusOK, w.admin.do("PUT", "/v1/admin/users/"+w.adaID+"/roles/admin", nil))
	type row struct{ name, status, grants string }
	list := func(query string) []row {
		var out []row
		for _, u := range w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/users"+query, nil)).json(t)["users"].([]any) {
			m := u.(map[string]any)
			grants, _ := json.Marshal(m["role_grants"])
			out = append(out, row{m["username"].(string), m["status"].(string), string(grants)})
		}
		slices.SortFunc(out, func(a, b row) int { return strings.Compare(a.name, b.name) })
		return out
	}
	active := []row{{"ada", "active", `[{"role":"admin","source":"admin"}]`}, {"margaret", "active", `[{"configured_as":"margaret","role":"admin","source":"configuration"}]`}}
	eventually(t, "every change projected", func() bool {
		return len(list("?status=all")) == 4 && len(list("?status=deleted")) == 1 && len(list("?status=disabled")) == 1 && slices.Equal(list(""), active)
	})
	tests := []struct {
		name, query string
		want        []row
	}{
		{"active by default", "", active},
		{"active", "?status=active", active},
		{"disabled", "?status=disabled", []row{{"grace", "disabled", "null"}}},
		{"deleted", "?status=deleted", []row{{"countess", "deleted", "null"}}},
		{"all", "?status=all&q=c", []row{{"countess", "deleted", "null"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	r := w.admin.expect(http.StatusUnprocessableEntity, w.admin.do("GET", "/v1/admin/users?status=gone", nil))
	if _, codes := r.problem(t); !slices.Equal(codes, []string{"status:status.unknown"}) {
		t.Fatalf("a bad status: %v", codes)
	}
	// The account itself says so too.
	if got, _ := json.Marshal(w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/users/"+whoami(w.admin), nil)).json(t)["role_grants"]); string(got) != active[1].grants {
		t.Fatalf("the configured admin's grants %s", got)
	}
}
