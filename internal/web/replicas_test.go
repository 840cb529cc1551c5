package web_test

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// With requests alternating between two replicas, the console works as on
// one: a password confirmed on A counts on B, and the token B creates is
// shown once, on A.
func TestConsoleStateAcrossReplicas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, srvA := testenv.App(t, app.Config{}, dir)
	_, srvB := testenv.Replica(t, a, dir, app.Config{})
	b := signUp(t, srvA, "ada")
	on := func(srv string) { b.base = srv }

	// Confirmed on A.
	if r := b.post("/reauth", url.Values{"current_password": {"correct7horse"}, "next": {"/settings/tokens/new"}}); r.header.Get("Location") != "/settings/tokens/new" {
		t.Fatalf("confirmed on A: %d to %q", r.status, r.header.Get("Location"))
	}
	// B knows the session once its credential index has read the sign-in.
	on(srvB.URL)
	deadline := time.Now().Add(60 * time.Second)
	for b.do("GET", "/settings/profile", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("replica B never knew the session")
		}
		time.Sleep(50 * time.Millisecond)
	}
	form := url.Values{"title": {"deploy"}, "expires": {time.Now().AddDate(0, 0, 10).Format("2006-01-02")}, "scopes": {"profile:read"}, "enabled": {"on"}}
	created := b.post("/settings/tokens/new", form)
	if loc := created.header.Get("Location"); created.status != http.StatusSeeOther || loc != "/settings/tokens/created" {
		t.Fatalf("token created on B after confirming on A: %d to %q", created.status, loc)
	}
	// Shown on A, once (when A's read model has the token: reading B's
	// writes on A is the consistency token's business, not this test's).
	on(srvA.URL)
	flashCookie := map[string]string{}
	for k, v := range b.cookies {
		if strings.HasSuffix(k, "accountd_flash") {
			flashCookie[k] = v
			delete(b.cookies, k)
		}
	}
	if len(flashCookie) != 1 {
		t.Fatalf("no flash cookie after creating a token: %v", b.cookies)
	}
	for !strings.Contains(b.do("GET", "/settings/tokens", nil).body, "deploy") {
		if time.Now().After(deadline) {
			t.Fatal("replica A never read the token")
		}
		time.Sleep(50 * time.Millisecond)
	}
	maps.Copy(b.cookies, flashCookie)
	shown := expect(t, b.do("GET", "/settings/tokens/created", nil), http.StatusOK)
	if regexp.MustCompile(`acp_[A-Za-z0-9]{38}`).FindString(shown.body) == "" {
		t.Fatalf("the token created on B is not shown on A: %.600s", shown.body)
	}
	maps.Copy(b.cookies, flashCookie) // the same flash asked for again, elsewhere
	on(srvB.URL)
	if again := b.do("GET", "/settings/tokens/created", nil); again.status != http.StatusSeeOther {
		t.Fatalf("shown twice: %d", again.status)
	}
}
