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

// Two replicas on the same servers count every limit once: 20
// registrations from one address, at once and spread over both, with the
// limit at 5 give exactly 5 accounts; wrong passwords alternating between
// them meet the sign-in throttle as they would on one.
func TestLimitsHoldAcrossReplicas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := app.Config{RegistrationLimit: commands.Rate{Burst: 5, Every: time.Hour},
		SignInLimits: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour}}}
	a, srvA := testenv.App(t, cfg, dir)
	b, srvB := testenv.Replica(t, a, dir, cfg)
	bases := []string{srvA.URL, srvB.URL}

	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			status, _, _ := exchange(t, bases[i%2], "POST", "/v1/users", map[string]any{"username": fmt.Sprintf("user%d", i), "password": "correct7horse"})
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusCreated] != 5 || statuses[http.StatusTooManyRequests] != 15 {
		t.Fatalf("20 registrations from one address over two replicas, limit 5: %v", statuses)
	}

	register(t, a, "linus")
	replicas := []*app.App{a, b}
	var got []string
	for i := range 5 {
		_, err := replicas[i%2].Commands.SignIn(t.Context(), commands.SignIn{Username: "linus", Password: "wrong7horse"}, meta())
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
		t.Fatalf("wrong passwords alternating between replicas: %v, want %v", got, want)
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
