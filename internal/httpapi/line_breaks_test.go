package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
)

// Every kind of single-line field refuses a line break through the API:
// 422 naming the field, and nothing changed.
func TestSingleLineFieldsOverHTTP(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	_, tok := newToken(t, w.ada, "profile:read")
	cred := w.ada.expect(http.StatusCreated, w.ada.do("POST", "/v1/me/credentials", map[string]any{
		"service": "git", "url": "https://git.example.com", "username": "ada", "secret": "ghp-Example-Secret-1"})).json(t)
	tokenPath, credPath, adminPath := "/v1/me/tokens/"+tok["id"].(string), "/v1/me/credentials/"+cred["id"].(string), "/v1/admin/users/"+w.adaID
	newCred := func(field, value string) map[string]any {
		body := map[string]any{"service": "wiki", "url": "https://wiki.example.com", "secret": "s3cret-Wiki-1"}
		body[field] = value
		return body
	}
	reads := []struct {
		who  *client
		path string
	}{{w.ada, "/v1/me"}, {w.ada, "/v1/me/tokens"}, {w.ada, "/v1/me/credentials"}, {w.admin, adminPath}, {w.admin, adminPath + "/credentials"}}
	state := func() [][]byte {
		var out [][]byte
		for _, r := range reads {
			out = append(out, r.who.expect(http.StatusOK, r.who.do("GET", r.path, nil)).body)
		}
		return out
	}
	before := state()

	for _, brk := range []struct{ name, value string }{
		{"crlf", "Ada\r\nInjected: yes"}, {"lf", "Ada\nLovelace"}, {"cr", "Ada\rLovelace"}, {"next line", "Ada\u0085Lovelace"},
		{"line separator", "Ada\u2028Lovelace"}, {"paragraph separator", "Ada\u2029Lovelace"},
	} {
		for _, tt := range []struct {
			name         string
			who          *client
			method, path string
			body         map[string]any
			want         []string
		}{
			{"full name", w.ada, "PATCH", "/v1/me", map[string]any{"full_name": brk.value}, []string{"full_name:full_name.line_break"}},
			{"full name at sign-up", &client{base: w.srv.URL}, "POST", "/v1/users", map[string]any{"username": "grace", "password": "correct7horse", "full_name": brk.value},
				[]string{"full_name:full_name.line_break"}},
			{"token title", w.ada, "POST", "/v1/me/tokens", map[string]any{"title": brk.value, "scopes": []string{"profile:read"}, "expires_at": inDays(30)},
				[]string{"title:title.line_break"}},
			{"token title changed", w.ada, "PATCH", tokenPath, map[string]any{"title": brk.value}, []string{"title:title.line_break"}},
			{"credential service", w.ada, "POST", "/v1/me/credentials", newCred("service", brk.value), []string{"service:service.line_break"}},
			{"credential account name", w.ada, "POST", "/v1/me/credentials", newCred("username", brk.value), []string{"username:username.line_break"}},
			{"credential account name changed", w.ada, "PATCH", credPath, map[string]any{"username": brk.value}, []string{"username:username.line_break"}},
			{"credential made by an admin", w.admin, "POST", adminPath + "/credentials", newCred("service", brk.value), []string{"service:service.line_break"}},
			{"full name by an admin", w.admin, "PATCH", adminPath, map[string]any{"full_name": brk.value}, []string{"full_name:full_name.line_break"}},
			{"admin-only fields with a good full name", w.admin, "PATCH", adminPath, map[string]any{"full_name": "Augusta Ada King", "employee_id": brk.value, "department": brk.value},
				[]string{"employee_id:employee_id.line_break", "department:department.line_break"}},
		} {
			t.Run(brk.name+"/"+tt.name, func(t *testing.T) {
				tt.who.t = t
				r := tt.who.do(tt.method, tt.path, tt.body)
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				if _, codes := r.problem(t); !slices.Equal(codes, tt.want) {
					t.Fatalf("errors %v, want %v", codes, tt.want)
				}
			})
		}
	}
	w.ada.t, w.admin.t = t, t
	for i, after := range state() {
		if !bytes.Equal(after, before[i]) {
			t.Fatalf("refused input changed %s:\n%s\n%s", reads[i].path, before[i], after)
		}
	}
	anon := &client{t: t, base: w.srv.URL}
	anon.expect(http.StatusCreated, anon.do("POST", "/v1/users", map[string]any{"username": "grace", "password": "correct7horse", "full_name": "Grace Hopper"}))
}

// Multi-line fields come back with LF line endings, however they were sent.
func TestMultiLineFieldsOverHTTP(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	me := w.ada.expect(http.StatusOK, w.ada.do("PATCH", "/v1/me", map[string]any{"description": "Analyst\r\nof engines\rand\u2028numbers"})).json(t)
	if me["description"] != "Analyst\nof engines\nand\nnumbers" {
		t.Fatalf("description %q", me["description"])
	}
	cred := w.ada.expect(http.StatusCreated, w.ada.do("POST", "/v1/me/credentials", map[string]any{
		"service": "git", "url": "https://git.example.com", "secret": "ghp-Example-Secret-1", "note": "first\r\nsecond\u2029third"})).json(t)
	if cred["note"] != "first\nsecond\nthird" {
		t.Fatalf("note %q", cred["note"])
	}
	admin := w.admin.expect(http.StatusOK, w.admin.do("PATCH", "/v1/admin/users/"+w.adaID, map[string]any{"description": "one\r\ntwo"})).json(t)
	if admin["description"] != "one\ntwo" {
		t.Fatalf("description set by an admin %q", admin["description"])
	}
}
