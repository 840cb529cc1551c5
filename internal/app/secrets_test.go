package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// call makes one JSON request and decodes the answer.
func call(t *testing.T, base, method, path, token string, body any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var sent []byte
	if body != nil {
		sent, _ = json.Marshal(body)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	testenv.CheckOpenAPI(t, req, sent, res, raw)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// After a full credentials scenario, no event, log line or read-model
// document holds a password or a token in clear.
func TestNoSecretInEventsLogsOrReadModels(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, srv := testenv.App(t, app.Config{Logger: logger, AccessLog: logger}, "")
	base := srv.URL
	const first, second = "first-Secret-9x", "second-Secret-9y"
	secrets := []string{first, second}
	call(t, base, "POST", "/v1/users", "", map[string]any{"username": "alan", "password": first}, 201)
	session := call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "alan", "password": first}, 201)["token"].(string)
	call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "alan", "password": "wrong-Guess-1"}, 401)
	call(t, base, "PUT", "/v1/me/password", session, map[string]any{"current_password": first, "new_password": second, "confirm_password": second}, 204)
	expires := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	created := call(t, base, "POST", "/v1/me/tokens", session, map[string]any{"title": "ci", "scopes": []string{"profile:read"}, "expires_at": expires}, 201)
	tok1 := created["token"].(string)
	call(t, base, "GET", "/v1/me", tok1, nil, 200)
	rotated := call(t, base, "POST", "/v1/me/tokens/"+created["id"].(string)+"/rotate", session, nil, 200)
	tok2 := rotated["token"].(string)
	call(t, base, "GET", "/v1/auth/whoami", tok2, nil, 200)
	other := call(t, base, "POST", "/v1/me/tokens", session, map[string]any{"title": "leak", "scopes": []string{"profile:read"}, "expires_at": expires}, 201)["token"].(string)
	call(t, base, "POST", "/v1/tokens/revoke", "", map[string]any{"tokens": []string{other}}, 202)
	call(t, base, "GET", "/v1/me", other, nil, 401)
	call(t, base, "GET", "/v1/me", tok1, nil, 401) // reuse of the rotated-away token
	second2 := call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "alan", "password": second}, 201)["token"].(string)
	secrets = append(secrets, session, second2, tok1, tok2, other, strings.SplitN(session, "_", 3)[2])
	eventually(t, "read models caught up", func() bool {
		code, _ := readyz(t, srv.URL)
		return code == http.StatusOK
	})
	time.Sleep(200 * time.Millisecond)

	var haystacks []string
	rs, err := a.Platform.ESDB.ReadAll(t.Context(), esdb.ReadAllOptions{}, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		haystacks = append(haystacks, string(ev.Event.Data)+string(ev.Event.UserMetadata))
	}
	rs.Close()
	if n < 10 {
		t.Fatalf("only %d events", n)
	}
	names, err := a.Platform.DB.ListCollectionNames(t.Context(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, c := range names {
		cur, err := a.Platform.DB.Collection(c).Find(t.Context(), bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var all []bson.M
		if err := cur.All(t.Context(), &all); err != nil {
			t.Fatal(err)
		}
		for _, d := range all {
			raw, _ := json.Marshal(d)
			haystacks = append(haystacks, string(raw))
			docs++
		}
	}
	if docs < 4 {
		t.Fatalf("only %d read-model documents", docs)
	}
	haystacks = append(haystacks, logs.String())
	if !strings.Contains(logs.String(), `"route":"/v1/me/tokens/{id}/rotate"`) {
		t.Fatal("the access log is not in the scan")
	}
	for _, s := range secrets {
		for _, h := range haystacks {
			if strings.Contains(h, s) {
				t.Fatalf("secret %.8s... found in %.300s", s, h)
			}
		}
	}
}
