package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// exchange makes one JSON request, checks it against the OpenAPI document
// and returns the status and the body.
func exchange(t *testing.T, base, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	sent, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(sent))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, nil
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	testenv.CheckOpenAPI(t, req, sent, res, raw)
	return res.StatusCode, res.Header, raw
}

// Three replicas on the same servers count every limit once: 60
// registrations from one address, at once and spread over all three, with
// the limit at 20 give exactly 20 accounts; wrong passwords taking turns
// between them meet the sign-in throttle as they would on one.
func TestLimitsHoldAcrossReplicas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := app.Config{RegistrationLimit: commands.Rate{Burst: 20, Every: time.Hour},
		SignInLimits: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour}}}
	a, srvA := testenv.App(t, cfg, dir)
	b, srvB := testenv.Replica(t, a, dir, cfg)
	c, srvC := testenv.Replica(t, a, dir, cfg)
	bases := []string{srvA.URL, srvB.URL, srvC.URL}

	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			status, _, _ := exchange(t, bases[i%3], "POST", "/v1/users", map[string]any{"username": fmt.Sprintf("user%d", i), "password": "correct7horse"})
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusCreated] != 20 || statuses[http.StatusTooManyRequests] != 40 {
		t.Fatalf("60 registrations from one address over three replicas, limit 20: %v", statuses)
	}

	register(t, a, "linus")
	replicas := []*app.App{a, b, c}
	var got []string
	for i := range 5 {
		_, err := replicas[i%3].Commands.SignIn(t.Context(), commands.SignIn{Username: "linus", Password: "wrong7horse"}, meta())
		var te *commands.ThrottledError
		switch {
		case errors.Is(err, commands.ErrInvalidCredentials):
			got = append(got, "wrong")
		case errors.As(err, &te):
			got = append(got, te.Scope)
		default:
			t.Fatalf("sign-in %d: %v", i+1, err)
		}
	}
	if want := []string{"wrong", "wrong", "wrong", commands.ScopeAccountAddress, commands.ScopeAccountAddress}; !slices.Equal(got, want) {
		t.Fatalf("wrong passwords taking turns between replicas: %v, want %v", got, want)
	}
}

// A replica that cannot reach the shared limits refuses sign-ins and
// registrations (503 with Retry-After), not a free pass.
func TestSignInFailsClosedWithoutSharedLimits(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{}, "")
	register(t, a, "linus")
	a.Platform.NATS.Close()
	for _, c := range []struct {
		name, path string
		body       map[string]any
	}{
		{"sign-in", "/v1/sessions", map[string]any{"username": "linus", "password": "correct7horse"}},
		{"registration", "/v1/users", map[string]any{"username": "grace", "password": "correct7horse"}},
	} {
		status, header, raw := exchange(t, srv.URL, "POST", c.path, c.body)
		var p struct{ Type string }
		_ = json.Unmarshal(raw, &p)
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" || p.Type != "/problems/unavailable" {
			t.Errorf("%s without NATS: %d %s %s", c.name, status, header.Get("Retry-After"), raw)
		}
	}
}
