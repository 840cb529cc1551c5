package app_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

// A read with a consistency token waits only for the read models its
// route reads: with the audit read model held back, the profile answers
// with the write at once, while the security log still waits (and says
// 503 at the budget, never an older log).
func TestReadWaitsOnlyForItsReadModels(t *testing.T) {
	var hold atomic.Bool
	readModels := projections.Projectors()
	for i, p := range readModels {
		if p.Name == "audit" {
			reduce := p.Reduce
			readModels[i].Reduce = func(r events.Recorded) ([]projections.Write, error) {
				for hold.Load() { // a slow read model
					time.Sleep(10 * time.Millisecond)
				}
				return reduce(r)
			}
		}
	}
	_, srv := testenv.App(t, app.Config{Projectors: readModels, ReadYourWritesTimeout: 3 * time.Second}, "")
	t.Cleanup(func() { hold.Store(false) }) // before the app closes
	if res := do(t, http.MethodPost, srv.URL+"/v1/users", "", "", `{"username":"ada","password":"correct7horse"}`, nil); res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", res.StatusCode)
	}
	var session struct {
		Token string `json:"token"`
	}
	if res := do(t, http.MethodPost, srv.URL+"/v1/sessions", "", "", `{"username":"ada","password":"correct7horse"}`, &session); res.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	hold.Store(true)
	res := do(t, http.MethodPatch, srv.URL+"/v1/me", session.Token, "", `{"full_name":"Ada L"}`, nil)
	token := res.Header.Get("X-Consistency-Token")
	if res.StatusCode != http.StatusOK || token == "" {
		t.Fatalf("write: %d, token %q", res.StatusCode, token)
	}
	var me struct {
		FullName string `json:"full_name"`
	}
	if res := do(t, http.MethodGet, srv.URL+"/v1/me", session.Token, token, "", &me); res.StatusCode != http.StatusOK || me.FullName != "Ada L" {
		t.Fatalf("the profile with the token while the audit read model is held back: %d %q, want 200 with the write", res.StatusCode, me.FullName)
	}
	if res := do(t, http.MethodGet, srv.URL+"/v1/me/audit", session.Token, token, "", nil); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("the security log with the token while its read model is held back: %d, want 503 to retry", res.StatusCode)
	}
	hold.Store(false)
	if res := do(t, http.MethodGet, srv.URL+"/v1/me/audit", session.Token, token, "", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("the security log once its read model caught up: %d", res.StatusCode)
	}
}
