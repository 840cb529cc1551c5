package app_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// Behind a trusted proxy, sign-in throttling by address counts each
// forwarded client on its own; from a peer that is not a trusted proxy,
// X-Forwarded-For is anyone's to forge and changes nothing.
func TestSignInThrottleByForwardedAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		// otherClient: what a second forwarded client gets once the
		// first has used up the address's attempts.
		otherClient int
	}{
		{"trusted proxy", "127.0.0.1/32", http.StatusUnauthorized},
		{"untrusted peer", "10.0.0.0/8", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := app.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix(tt.trusted)},
				SignInLimits: commands.SignInLimits{PerAddress: commands.Rate{Burst: 3, Every: time.Hour}}}
			_, srv := testenv.App(t, cfg, "")
			attempt := 0
			signIn := func(forwardedFor string) int {
				attempt++
				body := fmt.Sprintf(`{"username":"nobody%d","password":"wrong7horse"}`, attempt)
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/sessions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", forwardedFor)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			for range 3 {
				if got := signIn("192.0.2.1"); got != http.StatusUnauthorized {
					t.Fatalf("a wrong password within the address's attempts: %d", got)
				}
			}
			if got := signIn("198.51.100.7, 192.0.2.1"); got != http.StatusTooManyRequests {
				t.Fatalf("the first client past its attempts (a forged address left of it): %d, want 429", got)
			}
			if got := signIn("192.0.2.2"); got != tt.otherClient {
				t.Fatalf("another forwarded client: %d, want %d", got, tt.otherClient)
			}
		})
	}
}
