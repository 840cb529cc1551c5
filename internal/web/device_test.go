package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/devices"
	"github.com/accountd/accountd/internal/testenv"
)

// Signing in (or up) in the console leaves a device cookie, and with it the
// browser signs in while a distributed guesser has the account at its
// ceiling; a browser without it is limited as before.
func TestDeviceCookieSignsInThroughADistributedAttack(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		insecure bool
		cookie   string
	}{
		{"secure", false, "__Host-device"},
		{"insecure cookies", true, "device"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, srv := testenv.App(t, app.Config{InsecureCookies: tt.insecure}, "")
			deviceCookie := func(p page) *http.Cookie {
				for _, c := range (&http.Response{Header: p.header}).Cookies() {
					if c.Name == tt.cookie {
						return c
					}
				}
				return nil
			}
			owner := newBrowser(t, srv)
			signedUp := expect(t, owner.post("/signup", url.Values{"username": {"linus"}, "password": {"correct7horse"}}), http.StatusSeeOther)
			c := deviceCookie(signedUp)
			if c == nil || len(c.Value) != devices.Len || !c.HttpOnly || c.Secure == tt.insecure || c.SameSite != http.SameSiteStrictMode ||
				c.Path != "/" || c.Domain != "" || time.Until(c.Expires) < 364*24*time.Hour {
				t.Fatalf("device cookie %+v", c)
			}
			// The owner signs out: the device cookie stays.
			expect(t, owner.post("/logout", url.Values{}), http.StatusSeeOther)
			if owner.cookies[tt.cookie] != c.Value {
				t.Fatalf("signing out dropped the device cookie: %v", owner.cookies)
			}

			for i := range 22 {
				for range 5 {
					m := events.Metadata{ClientIP: fmt.Sprintf("198.51.100.%d", i)}
					_, _ = a.Commands.SignIn(t.Context(), commands.SignIn{Username: "linus", Password: "wrong7horse"}, m)
				}
			}
			stranger := newBrowser(t, srv)
			if p := stranger.post("/login", url.Values{"username": {"linus"}, "password": {"correct7horse"}}); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
				t.Fatalf("an unknown browser: %d %v", p.status, p.header)
			}
			p := expect(t, owner.post("/login", url.Values{"username": {"linus"}, "password": {"correct7horse"}}), http.StatusSeeOther)
			if p.header.Get("Location") != "/settings/profile" {
				t.Fatalf("the owner's browser went to %q", p.header.Get("Location"))
			}
			if renewed := deviceCookie(p); renewed == nil || len(renewed.Value) != devices.Len {
				t.Fatalf("renewed device cookie %+v", renewed)
			}
			expect(t, owner.get("/settings/profile"), http.StatusOK)
		})
	}
}
