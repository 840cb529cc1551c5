package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestNotificationsOverHTTP(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	prefs := w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications/preferences", nil)).json(t)
	if days := prefs["lead_days"].([]any); len(days) != 2 || days[0] != 7.0 || days[1] != 1.0 {
		t.Fatalf("default preferences %v", prefs)
	}
	_, codes := w.ada.expect(http.StatusUnprocessableEntity, w.ada.do("PUT", "/v1/me/notifications/preferences", map[string]any{
		"categories": map[string]any{"security": map[string]any{"in_app": false, "email": true}}})).problem(t)
	if !slices.Equal(codes, []string{"categories.security.in_app:security.in_app_required"}) {
		t.Fatalf("codes %v", codes)
	}
	set := w.ada.expect(http.StatusOK, w.ada.do("PUT", "/v1/me/notifications/preferences", map[string]any{
		"categories": map[string]any{"tokens": map[string]any{"in_app": true, "email": false}}, "lead_days": []int{14, 3}})).json(t)
	if cats := set["categories"].(map[string]any); cats["tokens"].(map[string]any)["email"] != false || cats["security"].(map[string]any)["email"] != true {
		t.Fatalf("set %v", set)
	}
	// Read back, what was set is what was stored (the read model keeps
	// every channel under its own name).
	got := w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications/preferences", nil)).json(t)
	if fmt.Sprint(got) != fmt.Sprint(set) {
		t.Fatalf("read back %v, set %v", got, set)
	}
	readOnly, _ := newToken(t, w.ada, "notifications:read")
	readOnly.expect(http.StatusForbidden, readOnly.do("POST", "/v1/me/notifications/read-all", nil))

	// The token, a password change and a rename: three notifications,
	// newest first.
	w.ada.expect(http.StatusNoContent, w.ada.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "battery7staple", "confirm_password": "battery7staple"}))
	w.ada.expect(http.StatusOK, w.ada.do("PUT", "/v1/me/username", map[string]any{"username": "countess"}))
	var feed map[string]any
	eventually(t, "three notifications", func() bool {
		feed = w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications", nil)).json(t)
		return len(feed["notifications"].([]any)) == 3
	})
	list := feed["notifications"].([]any)
	newest, oldest := list[0].(map[string]any), list[1].(map[string]any)
	if newest["kind"] != "username_changed" || newest["title"] != "Your username is now countess" || oldest["kind"] != "password_changed" || newest["read"] != false ||
		list[2].(map[string]any)["kind"] != "token_created" {
		t.Fatalf("feed %v", list)
	}
	page := w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications?limit=1", nil)).json(t)
	next := page["next_cursor"].(string)
	rest := w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications?limit=2&cursor="+next, nil)).json(t)
	if rest["notifications"].([]any)[0].(map[string]any)["id"] != oldest["id"] || rest["next_cursor"] != nil {
		t.Fatalf("second page %v", rest)
	}
	w.ada.expect(http.StatusUnprocessableEntity, w.ada.do("GET", "/v1/me/notifications?cursor=zzz", nil))
	w.ada.expect(http.StatusNotFound, w.ada.do("POST", "/v1/me/notifications/6ba7b810-9dad-11d1-80b4-00c04fd430c8/read", nil))
	w.ada.expect(http.StatusNoContent, w.ada.do("POST", "/v1/me/notifications/"+oldest["id"].(string)+"/read", nil))
	feed = w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications", nil)).json(t)
	if feed["unread_on_page"] != 2.0 || feed["notifications"].([]any)[1].(map[string]any)["read"] != true {
		t.Fatalf("after one read %v", feed)
	}
	w.ada.expect(http.StatusNoContent, w.ada.do("POST", "/v1/me/notifications/read-all", nil))
	if feed = w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/notifications", nil)).json(t); feed["unread_on_page"] != 0.0 {
		t.Fatalf("after read-all %v", feed)
	}
	// Security e-mails wait in the outbox (no SMTP relay here) for admins to see.
	var mails []any
	eventually(t, "the password e-mail in the outbox", func() bool {
		mails = w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/outbox", nil)).json(t)["emails"].([]any)
		return len(mails) >= 1
	})
	found := false
	for _, m := range mails {
		mm := m.(map[string]any)
		found = found || (mm["to"] == "ada@example.com" && mm["subject"] == "Your password was changed" && mm["user_id"] == w.adaID)
	}
	if !found {
		t.Fatalf("outbox %v", mails)
	}
	w.ada.expect(http.StatusForbidden, w.ada.do("GET", "/v1/admin/outbox", nil))
	w.admin.expect(http.StatusOK, w.admin.do("GET", "/v1/admin/users/"+w.adaID+"/notifications", nil))
}
