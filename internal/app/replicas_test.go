package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/internal/relay"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

func secretKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// activeOn reports, per component, whether this replica runs it now.
func activeOn(t *testing.T, url string) map[string]bool {
	t.Helper()
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Components []struct {
			Name   string `json:"name"`
			Active bool   `json:"active"`
		} `json:"components"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range r.Components {
		out[c.Name] = c.Active
	}
	return out
}

// replica is one running replica in a test.
type replica struct {
	app *app.App
	url string
}

// streamTail is the $all position of the newest event in the feed.
func streamTail(t *testing.T, a *app.App) uint64 {
	t.Helper()
	pos, _, err := relay.Tail(t.Context(), a.Platform.JetStream, app.FeedStream)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// rename writes on r and returns the event's position.
func rename(t *testing.T, a *app.App, id, name string) uint64 {
	t.Helper()
	res, err := a.Commands.UpdateProfile(t.Context(), commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": name}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	return res.Position
}

// handOver measures how long after stop a standby applies a new write:
// stop, then write through via (a live replica) and wait for on's read
// model to apply it.
func handOver(t *testing.T, stop func(), via, on *app.App, id, name string) time.Duration {
	t.Helper()
	start := time.Now()
	stop()
	pos := rename(t, via, id, name)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := on.Progress.Wait(ctx, "users", pos); err != nil {
		t.Fatalf("the standby never applied the write: %v", err)
	}
	return time.Since(start)
}

// verifyAll rebuilds every read model from the feed into scratch
// collections and compares them with the live ones (what accountctl
// verify all does).
func verifyAll(t *testing.T, a *app.App) {
	t.Helper()
	ctx := t.Context()
	head := streamTail(t, a)
	for _, proj := range projections.Projectors() {
		progress := projector.NewProgress()
		suffix := "__verify"
		x := &projector.Executor{Projector: proj, JetStream: a.Platform.JetStream, Stream: app.FeedStream, Subject: app.FeedSubject,
			DB: a.Platform.DB, Progress: progress, Suffix: suffix, Fresh: true, Keys: a.Keys}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- x.Run(runCtx) }()
		waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err := progress.Wait(waitCtx, proj.Name, head)
		cancel()
		stop()
		if err != nil {
			t.Fatalf("rebuild of %s did not reach %d: %v", proj.Name, head, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for _, c := range proj.Collections {
			live, rebuilt := documents(t, a, c), documents(t, a, c+suffix)
			for id, doc := range rebuilt {
				if !reflect.DeepEqual(live[id], doc) {
					t.Errorf("%s/%s differs from a rebuild:\nlive    %v\nrebuilt %v", c, id, live[id], doc)
				}
			}
			for id := range live {
				if _, ok := rebuilt[id]; !ok {
					t.Errorf("%s/%s is not in a rebuild", c, id)
				}
			}
		}
	}
}

func documents(t *testing.T, a *app.App, collection string) map[string]string {
	t.Helper()
	cur, err := a.Platform.DB.Collection(collection).Find(t.Context(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(t.Context(), &docs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range docs {
		raw, _ := bson.MarshalExtJSON(d, false, false)
		var v any
		_ = json.Unmarshal(raw, &v)
		canon, _ := json.Marshal(v) // map keys sorted
		out[fmt.Sprint(d["_id"])] = string(canon)
	}
	return out
}

// Several replicas on one set of servers: each read model is applied by
// one of them at a time (the others stand by), one relay forwards the
// log, a graceful stop hands over at once and a crash within the pin's
// TTL, and the read models end equal to a rebuild from the log.
func TestReplicasOneActiveProjectorAndRelay(t *testing.T) {
	servers := testenv.SharedServers(t)
	key := secretKey(t)
	const ttl = 3 * time.Second
	start := func(id string) replica {
		a, srv := testenv.ReplicaOn(t, app.Config{SecretKey: key, ReplicaID: id, PinnedTTL: ttl}, servers)
		return replica{a, srv.URL}
	}
	replicas := []replica{start("a"), start("b")}
	var users []string
	for i := range 6 {
		users = append(users, register(t, replicas[i%2].app, "user"+strconv.Itoa(i)))
	}
	for i, id := range users {
		rename(t, replicas[(i+1)%2].app, id, "Name "+strconv.Itoa(i))
	}
	// Exactly one replica runs each projector and the relay.
	var active, standby replica
	eventually(t, "one active replica per projector and for the relay", func() bool {
		on := []map[string]bool{activeOn(t, replicas[0].url), activeOn(t, replicas[1].url)}
		for _, name := range []string{"relay", "projector/users", "projector/audit"} {
			if on[0][name] == on[1][name] {
				return false
			}
		}
		if on[0]["projector/users"] {
			active, standby = replicas[0], replicas[1]
		} else {
			active, standby = replicas[1], replicas[0]
		}
		return true
	})

	// A graceful stop gives the pins up: the standby applies the next write
	// at once.
	graceful := handOver(t, active.app.Close, standby.app, standby.app, users[0], "After a graceful stop")
	t.Logf("hand-over after a graceful stop (stop included): %v", graceful)
	if !activeOn(t, standby.url)["projector/users"] {
		t.Error("the standby did not take the users projector")
	}

	// A crash gives nothing up: the pin moves after its TTL.
	third := start("c")
	crashed := standby
	crash := func() { crashed.app.Platform.NATS.Close() } // no unpin, no lease release: as kill -9 looks to NATS
	crashHandOver := handOver(t, crash, third.app, third.app, users[1], "After a crash")
	t.Logf("hand-over after a crash (pinned TTL %v): %v", ttl, crashHandOver)

	waitCtx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	head := streamTail(t, third.app)
	for _, p := range projections.Projectors() {
		if err := third.app.Progress.Wait(waitCtx, p.Name, head); err != nil {
			t.Fatalf("%s did not catch up on the survivor: %v", p.Name, err)
		}
	}
	verifyAll(t, third.app)
}

// do sends a JSON request and returns the response (body read into out
// when given).
func do(t *testing.T, method, url, bearer, token string, body string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if token != "" {
		req.Header.Set("X-Consistency-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res
}

// A write on one replica carries a consistency token; a read with it on
// another is never older than the write. A token the read models do not
// reach in time is a bounded 503 with Retry-After, a malformed one 400.
func TestConsistencyTokenOnAnyReplica(t *testing.T) {
	servers := testenv.SharedServers(t)
	key := secretKey(t)
	var urls []string
	for _, id := range []string{"a", "b"} {
		_, srv := testenv.ReplicaOn(t, app.Config{SecretKey: key, ReplicaID: id, ReadYourWritesTimeout: time.Second}, servers)
		urls = append(urls, srv.URL)
	}
	if res := do(t, http.MethodPost, urls[0]+"/v1/users", "", "", `{"username":"ada","password":"correct7horse"}`, nil); res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", res.StatusCode)
	}
	var session struct {
		Token string `json:"token"`
	}
	if res := do(t, http.MethodPost, urls[0]+"/v1/sessions", "", "", `{"username":"ada","password":"correct7horse"}`, &session); res.StatusCode != http.StatusCreated || session.Token == "" {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	var waits []time.Duration
	for i := range 30 {
		name := fmt.Sprint("Ada ", i)
		writeOn, readOn := urls[i%2], urls[(i+1)%2]
		res := do(t, http.MethodPatch, writeOn+"/v1/me", session.Token, "", `{"full_name":"`+name+`"}`, nil)
		token := res.Header.Get("X-Consistency-Token")
		if res.StatusCode != http.StatusOK || token == "" {
			t.Fatalf("write %d: %d, token %q", i, res.StatusCode, token)
		}
		start := time.Now()
		var me struct {
			FullName string `json:"full_name"`
		}
		// The caller's own tracker does not know writes made on the other
		// replica: only the token makes this read wait.
		res = do(t, http.MethodGet, readOn+"/v1/me", session.Token, token, "", &me)
		waits = append(waits, time.Since(start))
		if res.StatusCode != http.StatusOK || me.FullName != name {
			t.Fatalf("read %d with the token on the other replica: %d %q, want %q", i, res.StatusCode, me.FullName, name)
		}
	}
	slices.Sort(waits)
	t.Logf("read with a token on the other replica: p50 %v, max %v", waits[len(waits)/2], waits[len(waits)-1])

	start := time.Now()
	res := do(t, http.MethodGet, urls[1]+"/v1/me", session.Token, "999999999999999", "", nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("a token not reached: %d (Retry-After %q), want 503", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a token not reached took %v to refuse", took)
	}
	if res := do(t, http.MethodGet, urls[1]+"/v1/me", session.Token, "soon", "", nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a malformed token: %d, want 400", res.StatusCode)
	}
}
