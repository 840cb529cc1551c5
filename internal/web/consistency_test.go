package web_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// consistencyCookie is the consistency cookie a response set, if any.
func consistencyCookie(p page) *http.Cookie {
	for _, ck := range (&http.Response{Header: p.header}).Cookies() {
		if strings.HasSuffix(ck.Name, "consistency") {
			return ck
		}
	}
	return nil
}

// twoReplicas starts two replicas on shared servers and returns their
// URLs.
func twoReplicas(t *testing.T) []string {
	t.Helper()
	servers := testenv.SharedServers(t)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(raw)
	var urls []string
	for _, id := range []string{"a", "b"} {
		_, srv := testenv.ReplicaOn(t, app.Config{SecretKey: key, ReplicaID: id}, servers)
		urls = append(urls, srv.URL)
	}
	return urls
}

// A change made through the console on one replica shows on the next page
// from the other, every time: the consistency cookie makes that page wait
// for its read models.
func TestConsistencyCookieAcrossReplicas(t *testing.T) {
	t.Parallel()
	urls := twoReplicas(t)
	b := &browser{t: t, base: urls[0], cookies: map[string]string{}, header: http.Header{}}
	expect(t, b.post("/signup", url.Values{"username": {"ada"}, "password": {"correct7horse"}, "email": {"ada@example.com"},
		"preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	// The other replica knows the session once its credential index has
	// read the sign-in (the cookie is for read models, not for that).
	b.base = urls[1]
	signedIn := maps.Clone(b.cookies) // a replica that does not know the session yet clears it
	deadline := time.Now().Add(60 * time.Second)
	for b.do("GET", "/settings/profile", nil).status != http.StatusOK {
		maps.Copy(b.cookies, signedIn)
		if time.Now().After(deadline) {
			t.Fatal("replica b never knew the session")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 20 {
		writer, reader := urls[i%2], urls[(i+1)%2]
		name := fmt.Sprintf("Ada the %dth", i)
		b.base = writer
		saved := expect(t, b.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "full_name": {name},
			"preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
		if consistencyCookie(saved) == nil {
			t.Fatalf("round %d: no consistency cookie after saving the profile: %v", i, saved.header)
		}
		b.base = reader
		profile := expect(t, b.do("GET", "/settings/profile", nil), http.StatusOK)
		if !strings.Contains(profile.body, `value="`+name+`"`) {
			t.Fatalf("round %d: the profile on the other replica does not show %q", i, name)
		}
	}
}

// The cookie is set by a request that wrote, never by one that only read,
// and holds the newest position; a malformed one is cleared and the page
// served; one the read models do not reach in time is the error page with
// 503 and Retry-After, not the page as it was.
func TestConsistencyCookie(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{ReadYourWritesTimeout: 300 * time.Millisecond}, "")
	b := signUp(t, srv, "ada")
	name := func() string {
		for k := range b.cookies {
			if strings.HasSuffix(k, "consistency") {
				return k
			}
		}
		t.Fatalf("no consistency cookie kept: %v", b.cookies)
		return ""
	}()
	profile := func(fullName string) url.Values {
		return url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "full_name": {fullName}, "preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}
	}
	const far = "999999999999"
	tests := []struct {
		name       string
		cookie     string // "" keeps the browser's
		do         func() page
		status     int
		wantCookie func(t *testing.T, ck *http.Cookie)
	}{
		{"a write sets it", "", func() page { return b.post("/settings/profile", profile("Ada")) }, http.StatusSeeOther, func(t *testing.T, ck *http.Cookie) {
			if ck == nil {
				t.Fatal("no cookie after a write")
			}
			if p, err := strconv.ParseUint(ck.Value, 10, 64); err != nil || p == 0 {
				t.Errorf("value %q", ck.Value)
			}
			if ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != 300 || ck.Secure != strings.HasPrefix(ck.Name, "__Host-") {
				t.Errorf("attributes %+v", ck)
			}
		}},
		{"a read does not", "", func() page { return b.do("GET", "/settings/profile", nil) }, http.StatusOK, func(t *testing.T, ck *http.Cookie) {
			if ck != nil {
				t.Errorf("set by a read: %+v", ck)
			}
		}},
		{"a write keeps a newer position", far, func() page { return b.post("/settings/profile", profile("Ada Lovelace")) }, http.StatusSeeOther, func(t *testing.T, ck *http.Cookie) {
			if ck == nil || ck.Value != far {
				t.Errorf("cookie %+v, want the newer %s", ck, far)
			}
		}},
		{"a malformed one is cleared", "12x", func() page { return b.do("GET", "/settings/profile", nil) }, http.StatusOK, func(t *testing.T, ck *http.Cookie) {
			if ck == nil || ck.MaxAge >= 0 {
				t.Errorf("not cleared: %+v", ck)
			}
		}},
		{"one not reached in time", far, func() page { return b.do("GET", "/settings/profile", nil) }, http.StatusServiceUnavailable, func(t *testing.T, ck *http.Cookie) {
			if ck != nil {
				t.Errorf("changed by a timed-out read: %+v", ck)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cookie != "" {
				b.cookies[name] = tc.cookie
			}
			p := tc.do()
			if p.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", p.status, tc.status, p.body)
			}
			tc.wantCookie(t, consistencyCookie(p))
			if p.status == http.StatusServiceUnavailable {
				if p.header.Get("Retry-After") != "1" || !strings.Contains(p.body, "does not show your latest change yet") {
					t.Errorf("503 without Retry-After or its message: %v %.600s", p.header, p.body)
				}
			}
			if tc.cookie != "" {
				delete(b.cookies, name)
			}
		})
	}
}
