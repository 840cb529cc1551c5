package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/internal/tokens"
)

// A session made on one replica works on the other at once: a replica
// whose credential index has not read it yet waits for the index (or says
// 503, retry), never 401. A credential nobody issued is still 401, and at
// once when the index is current (the budget here is long enough that
// waiting it out would show).
func TestNewCredentialOnLaggingReplica(t *testing.T) {
	servers := testenv.SharedServers(t)
	key := secretKey(t)
	var urls []string
	for _, id := range []string{"a", "b"} {
		_, srv := testenv.ReplicaOn(t, app.Config{SecretKey: key, ReplicaID: id, ReadYourWritesTimeout: 30 * time.Second}, servers)
		urls = append(urls, srv.URL)
	}
	if res := do(t, http.MethodPost, urls[0]+"/v1/users", "", "", `{"username":"ada","password":"correct7horse"}`, nil); res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", res.StatusCode)
	}
	for i := range 50 {
		signInOn, useOn := urls[i%2], urls[(i+1)%2]
		var session struct {
			Token string `json:"token"`
		}
		if res := do(t, http.MethodPost, signInOn+"/v1/sessions", "", "", `{"username":"ada","password":"correct7horse"}`, &session); res.StatusCode != http.StatusCreated {
			t.Fatalf("round %d: sign in: %d", i, res.StatusCode)
		}
		if res := do(t, http.MethodGet, useOn+"/v1/auth/whoami", session.Token, "", "", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("round %d: the session on the other replica at once: %d, want 200", i, res.StatusCode)
		}
	}

	unknown, err := tokens.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range urls {
		start := time.Now()
		res := do(t, http.MethodGet, base+"/v1/auth/whoami", unknown.Token, "", "", nil)
		if took := time.Since(start); res.StatusCode != http.StatusUnauthorized || took > 10*time.Second {
			t.Fatalf("a session nobody issued: %d after %v, want 401 at once", res.StatusCode, took)
		}
	}
}
