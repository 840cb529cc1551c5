package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// Pronouns, declared in the table of profile fields: set at sign-up and by
// PATCH, read back, checked (one line, at most 40 characters), in the
// security log, and private (not on the public profile).
func TestPronouns(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	ada := signUp(t, srv, "ada", map[string]any{"pronouns": "she/her"})
	if got := ada.expect(http.StatusOK, ada.do("GET", "/v1/me", nil)).json(t)["pronouns"]; got != "she/her" {
		t.Fatalf("pronouns after sign-up: %v", got)
	}
	if got := ada.expect(http.StatusOK, ada.do("PATCH", "/v1/me", map[string]any{"pronouns": "they/them"})).json(t)["pronouns"]; got != "they/them" {
		t.Fatalf("pronouns after PATCH: %v", got)
	}
	for name, bad := range map[string]string{"too long": strings.Repeat("x", 41), "two lines": "she\nher"} {
		t.Run(name, func(t *testing.T) {
			ada.expect(http.StatusUnprocessableEntity, ada.do("PATCH", "/v1/me", map[string]any{"pronouns": bad}))
		})
	}
	if got := ada.expect(http.StatusOK, ada.do("GET", "/v1/me", nil)).json(t)["pronouns"]; got != "they/them" {
		t.Fatalf("a refused change changed pronouns to %v", got)
	}
	anon := &client{t: t, base: srv.URL}
	if _, shown := anon.expect(http.StatusOK, anon.do("GET", "/v1/profiles/ada", nil)).json(t)["pronouns"]; shown {
		t.Fatal("pronouns on the public profile")
	}
	found := false
	for _, e := range ada.expect(http.StatusOK, ada.do("GET", "/v1/me/audit?type=user.profile_updated", nil)).json(t)["entries"].([]any) {
		for _, c := range e.(map[string]any)["changes"].([]any) {
			c := c.(map[string]any)
			found = found || c["field"] == "pronouns" && c["from"] == "she/her" && c["to"] == "they/them"
		}
	}
	if !found {
		t.Fatal("the security log does not list the change of pronouns")
	}
}
