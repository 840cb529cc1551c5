package web_test

import (
	"fmt"
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

// A replica whose credential index has not yet read a sign-in made on
// another one a moment ago waits for it, or asks the browser to retry: it
// never signs the user out (no redirect to the sign-in page, the session
// cookie kept). With and without the consistency cookie (without it, the
// log's head as the request found it is what the replica waits for).
func TestLaggingReplicaNeverSignsOut(t *testing.T) {
	t.Parallel()
	urls := twoReplicas(t)
	retried := 0
	for i := range 30 {
		b := &browser{t: t, base: urls[i%2], cookies: map[string]string{}, header: http.Header{}}
		name := fmt.Sprintf("ada%d", i)
		expect(t, b.post("/signup", url.Values{"username": {name}, "password": {"correct7horse"}, "email": {name + "@example.com"}}), http.StatusSeeOther)
		var session string
		for k := range b.cookies {
			if strings.HasSuffix(k, "accountd_session") {
				session = k
			} else if i%3 != 0 && strings.HasSuffix(k, "consistency") {
				delete(b.cookies, k) // the replica has only the log's head to go by
			}
		}
		if session == "" {
			t.Fatalf("round %d: no session cookie after signing up: %v", i, b.cookies)
		}
		b.base = urls[(i+1)%2]
		for try := 0; ; try++ {
			p := b.do("GET", "/settings/profile", nil)
			if _, kept := b.cookies[session]; !kept {
				t.Fatalf("round %d: the other replica cleared the session cookie (%d)", i, p.status)
			}
			if p.status == http.StatusOK {
				break
			}
			if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" || try == 5 {
				t.Fatalf("round %d: the other replica answered %d (Location %q), want the page or 503 to retry", i, p.status, p.header.Get("Location"))
			}
			retried++
			time.Sleep(time.Second)
		}
	}
	t.Logf("503 to retry: %d of 30", retried)
}
