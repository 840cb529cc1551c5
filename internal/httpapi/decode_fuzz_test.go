package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Any body either decodes or gives a requestError with a status the API
// documents; it never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"title":"ci","scopes":["profile:read"],"expires_at":"2027-01-01T00:00:00Z","allowed_ips":["192.0.2.0/24"]}`, `{"tokens":["acp_x"]}`, `{"enabled":false,"allowed_ips":null}`, `{"username":"ada","password":"x"}`, `{"email":null}`, `{"full_name":7}`, `{`, `[]`, `{"a":1}`, `{}{}`, `null`, "\xff"} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		for _, dst := range []any{&registerRequest{}, &patchMeRequest{}, &signInRequest{}, &passwordRequest{}, &createTokenRequest{}, &patchTokenRequest{}, &rotateRequest{}, &revokeRequest{}} {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Content-Type", contentType)
			err := decode(httptest.NewRecorder(), r, dst)
			if err == nil {
				continue
			}
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("decode(%q) = %v, not a requestError", body, err)
			}
			switch re.status {
			case 400, 413, 415:
			default:
				t.Fatalf("decode(%q): status %d", body, re.status)
			}
		}
	})
}
