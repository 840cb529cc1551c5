package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

// service is a running accountd and how accountctl reaches it.
type service struct {
	t    *testing.T
	app  *app.App
	base string
	args []string
}

func start(t *testing.T, cfg app.Config) *service {
	t.Helper()
	dir := t.TempDir()
	a, srv := testenv.App(t, cfg, dir)
	return &service{t: t, app: a, base: srv.URL, args: []string{"--data", dir,
		"--eventstore-listen", a.Platform.EventStore.Addr(), "--nats-listen", strings.TrimPrefix(a.Platform.NATSURL, "nats://")}}
}

// ctl runs accountctl against the service.
func (s *service) ctl(ctx context.Context, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(ctx, append(append([]string{}, s.args...), args...), func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func (s *service) mustCtl(args ...string) string {
	s.t.Helper()
	code, out, errOut := s.ctl(context.Background(), args...)
	if code != 0 {
		s.t.Fatalf("accountctl %v: exit %d: %s%s", args, code, errOut, out)
	}
	return out
}

func meta(actor string) events.Metadata {
	return events.Metadata{Actor: actor, CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.44", UserAgent: "test"}
}

func (s *service) register(name string) string {
	s.t.Helper()
	reg, err := s.app.Commands.RegisterUser(context.Background(), commands.RegisterUser{Username: name, Password: "correct7horse"}, meta(""))
	if err != nil {
		s.t.Fatal(err)
	}
	return reg.User.ID
}

func (s *service) rename(id, name string) time.Time {
	s.t.Helper()
	if _, err := s.app.Commands.RenameUser(context.Background(), commands.RenameUser{UserID: id, NewUsername: name}, meta(id)); err != nil {
		s.t.Fatal(err)
	}
	return time.Now()
}

type holding struct {
	UserID   string  `json:"user_id"`
	Username string  `json:"username"`
	From     string  `json:"from"`
	Until    *string `json:"until"`
}

// alice renames to bob, carol takes alice, carol moves on, bob takes alice
// back: the tool (from the log) and the admin endpoint (from the read
// model) give the same exact intervals, and --at answers at every boundary.
func TestUsernameHistory(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{Admins: []string{"overseer"}})
	first := s.register("Alice")
	s.rename(first, "bob")
	carol := s.register("alice")
	s.rename(carol, "carol")
	s.rename(first, "ALICE")
	out := s.mustCtl("username-history", "aLiCe", "--json")
	var hs []holding
	if err := json.Unmarshal([]byte(out), &hs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(hs) != 3 || hs[0].UserID != first || hs[0].Username != "Alice" || hs[1].UserID != carol || hs[1].Username != "alice" ||
		hs[2].UserID != first || hs[2].Username != "ALICE" || hs[2].Until != nil || hs[0].Until == nil || hs[1].Until == nil {
		t.Fatalf("holdings %s", out)
	}
	if *hs[0].Until > hs[1].From || *hs[1].Until > hs[2].From {
		t.Fatalf("holdings overlap: %s", out)
	}
	// The admin endpoint from the read model gives the same.
	admin := s.signUp("overseer")
	var api struct{ Holdings []holding }
	s.eventually("history projected", func() bool {
		api.Holdings = nil
		s.get("/v1/usernames/ALICE/history", admin, &api)
		return len(api.Holdings) == 3
	})
	for i := range hs {
		if api.Holdings[i].UserID != hs[i].UserID || api.Holdings[i].From != hs[i].From || fmt.Sprint(api.Holdings[i].Until) != fmt.Sprint(hs[i].Until) && *api.Holdings[i].Until != *hs[i].Until {
			t.Fatalf("API %d: %+v, tool %+v", i, api.Holdings[i], hs[i])
		}
	}
	// --at at the boundaries: from is in, until is out.
	for _, tt := range []struct {
		at   string
		want string // user id, "" for nobody
	}{
		{hs[0].From, first}, {*hs[0].Until, ""}, {hs[1].From, carol}, {*hs[1].Until, ""}, {hs[2].From, first},
		{time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano), first}, {"2000-01-01T00:00:00Z", ""},
	} {
		code, out, errOut := s.ctl(context.Background(), "username-history", "alice", "--at", tt.at, "--json")
		if tt.want == "" {
			if code == 0 || !strings.Contains(errOut, "nobody held") {
				t.Errorf("--at %s: exit %d %s %s", tt.at, code, out, errOut)
			}
			if st := s.get("/v1/usernames/alice/history?at="+tt.at, admin, nil); st != 404 {
				t.Errorf("API at %s: %d", tt.at, st)
			}
			continue
		}
		var h []holding
		if code != 0 || json.Unmarshal([]byte(out), &h) != nil || len(h) != 1 || h[0].UserID != tt.want {
			t.Errorf("--at %s: exit %d %s %s", tt.at, code, out, errOut)
		}
		var one holding
		if st := s.get("/v1/usernames/alice/history?at="+tt.at, admin, &one); st != 200 || one.UserID != tt.want {
			t.Errorf("API at %s: %d %+v", tt.at, st, one)
		}
	}
	// Not an admin: 403.
	if st := s.get("/v1/usernames/alice/history", s.signUp("mallory"), nil); st != 403 {
		t.Fatalf("a non-admin got %d", st)
	}
	// A table on a terminal (here: plain text), one line per holding.
	if out := s.mustCtl("username-history", "alice"); strings.Count(out, "\n") != 4 || !strings.Contains(out, "(holds it now)") {
		t.Fatalf("table:\n%s", out)
	}
}

func (s *service) signUp(name string) string {
	s.t.Helper()
	s.register(name)
	var session struct{ Token string }
	s.post("/v1/sessions", "", map[string]any{"username": name, "password": "correct7horse"}, &session)
	return session.Token
}

func (s *service) post(path, token string, body any, out any) int {
	s.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(req, out)
}

func (s *service) get(path, token string, out any) int {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(req, out)
}

func (s *service) do(req *http.Request, out any) int {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s: %v: %s", req.URL, err, raw)
		}
	}
	return res.StatusCode
}

func (s *service) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type line struct {
	Position uint64          `json:"position"`
	Stream   string          `json:"stream"`
	Revision uint64          `json:"revision"`
	Type     string          `json:"type"`
	Time     time.Time       `json:"time"`
	Metadata json.RawMessage `json:"metadata"`
	Payload  json.RawMessage `json:"payload"`
}

func lines(t *testing.T, out string) []line {
	t.Helper()
	var ls []line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var x line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		ls = append(ls, x)
	}
	return ls
}

func TestReplayAndUserHistory(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{})
	ada := s.register("ada")
	s.rename(ada, "countess")
	mid := time.Now()
	grace := s.register("grace")
	all := lines(t, s.mustCtl("replay"))
	if len(all) < 6 {
		t.Fatalf("%d events", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Position <= all[i-1].Position {
			t.Fatalf("out of order at %d", i)
		}
	}
	users := lines(t, s.mustCtl("replay", "--stream", "user-"))
	renames := lines(t, s.mustCtl("replay", "--type", "user.renamed"))
	later := lines(t, s.mustCtl("replay", "--since", mid.UTC().Format(time.RFC3339Nano)))
	window := lines(t, s.mustCtl("replay", "--from", fmt.Sprint(all[1].Position), "--to", fmt.Sprint(all[3].Position)))
	if len(users) != 3 || len(renames) != 1 || !strings.Contains(string(renames[0].Payload), "countess") || len(window) != 3 || window[0].Position != all[1].Position {
		t.Fatalf("filters: %d users, %d renames, window %d", len(users), len(renames), len(window))
	}
	for _, l := range later {
		if l.Time.Before(mid) {
			t.Fatalf("--since let through %v", l)
		}
	}
	if len(later) == 0 || !strings.Contains(string(later[len(later)-1].Payload), grace) {
		t.Fatalf("--since %d lines", len(later))
	}
	// --follow streams what comes after.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append(append([]string{}, s.args...), "replay", "--follow", "--type", "user.renamed"), func(string) string { return "" }, w, io.Discard)
		w.Close()
		done <- code
	}()
	got := make(chan string, 10)
	go func() {
		buf := make([]byte, 1<<16)
		var acc string
		for {
			n, err := r.Read(buf)
			acc += string(buf[:n])
			for strings.Contains(acc, "\n") {
				i := strings.Index(acc, "\n")
				got <- acc[:i]
				acc = acc[i+1:]
			}
			if err != nil {
				close(got)
				return
			}
		}
	}()
	if first := <-got; !strings.Contains(first, "countess") {
		t.Fatalf("first followed line %s", first)
	}
	s.rename(grace, "hopper")
	select {
	case l := <-got:
		if !strings.Contains(l, "hopper") {
			t.Fatalf("live line %s", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("--follow printed nothing new")
	}
	cancel()
	<-done

	// The account's timeline, by id or current name.
	var tl []struct {
		Type, Summary, Actor string
		ClientIP             string `json:"client_ip"`
	}
	if err := json.Unmarshal([]byte(s.mustCtl("user-history", "countess", "--json")), &tl); err != nil {
		t.Fatal(err)
	}
	types := []string{}
	for _, e := range tl {
		types = append(types, e.Type)
	}
	want := []string{events.UsernameClaimed, events.UserRegistered, events.UsernameClaimed, events.UserRenamed, events.UsernameReleased}
	if strings.Join(types, ",") != strings.Join(want, ",") || !strings.Contains(tl[3].Summary, `"ada" → "countess"`) {
		t.Fatalf("timeline %+v", tl)
	}
	if out := s.mustCtl("user-history", ada); !strings.Contains(out, "user.renamed") {
		t.Fatalf("by id:\n%s", out)
	}

	// An erased account: its timeline shows its personal data as erased,
	// and replay, which copies the log, shows it sealed.
	name := "Grace Brewster Murray"
	if _, err := s.app.Commands.UpdateProfile(context.Background(), commands.UpdateProfile{UserID: grace, Change: commands.ProfileChange{"full_name": name}}, meta(grace)); err != nil {
		t.Fatal(err)
	}
	if out := s.mustCtl("user-history", grace); !strings.Contains(out, name) {
		t.Fatalf("before deletion the timeline shows the name:\n%s", out)
	}
	if _, err := s.app.Commands.DeleteUser(context.Background(), commands.DeleteUser{UserID: grace, ByAdmin: true}, meta("admin")); err != nil {
		t.Fatal(err)
	}
	out := s.mustCtl("user-history", grace)
	if strings.Contains(out, name) || !strings.Contains(out, "full name (erased)") || !strings.Contains(out, events.UserDeleted) {
		t.Fatalf("after deletion:\n%s", out)
	}
	if raw := s.mustCtl("replay", "--stream", events.UserStream(grace)); strings.Contains(raw, name) || !strings.Contains(raw, events.SealedPrefix) {
		t.Fatalf("replay of the erased account:\n%s", raw)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{})
	s.register("ada")
	for _, tt := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad time", []string{"username-history", "ada", "--at", "yesterday"}, 2, "RFC 3339"},
		{"bad position", []string{"replay", "--from", "minus-one"}, 2, "position"},
		{"unknown user", []string{"user-history", "nobodyhere"}, 1, "nobody holds"},
		{"unknown user id", []string{"user-history", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, 1, "no account"},
		{"unknown read model", []string{"rebuild", "nothing"}, 2, "no read model"},
		{"until without into", []string{"rebuild", "users", "--until", "2026-01-01T00:00:00Z"}, 2, "go together"},
		{"unknown command", []string{"explode"}, 2, "unknown command"},
		{"missing argument", []string{"username-history"}, 2, "accepts 1 arg"},
		{"unreachable server", []string{"--eventstore-listen", "127.0.0.1:1", "replay"}, 1, "does not answer"},
		{"no credentials", []string{"--data", t.TempDir(), "replay"}, 1, "no credentials"},
		{"admins takes no argument", []string{"admins", "margaret"}, 2, "unknown command"},
		{"admins, unreachable server", []string{"--eventstore-listen", "127.0.0.1:1", "admins"}, 1, "does not answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := s.ctl(context.Background(), tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || strings.Contains(errOut, "goroutine") {
				t.Fatalf("exit %d, stderr %q, stdout %q", code, errOut, out)
			}
		})
	}
}

func snapshot(t *testing.T, s *service, coll string) map[string]string {
	t.Helper()
	physical := s.app.Catalog.Collection(coll)
	cur, err := s.app.Platform.DB.Collection(physical).Find(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range docs {
		raw, _ := bson.MarshalExtJSON(d, false, false)
		out[fmt.Sprint(d["_id"])] = string(raw)
	}
	return out
}

// A rebuild while 20 clients keep writing swaps in a read model equal to a
// clean replay, with every event that arrived meanwhile; verify then finds
// nothing, finds a document changed by hand, and an interrupted rebuild
// leaves the live read model serving.
func TestRebuildUnderLoadThenVerify(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{})
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = s.register(fmt.Sprintf("writer%d", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	counts := make([]int, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("Writer %d edit %d", i, n)
				if _, err := s.app.Commands.UpdateProfile(context.Background(), commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": name}}, meta(id)); err != nil {
					t.Error(err)
					return
				}
				counts[i] = n + 1
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	s.mustCtl("rebuild", "users")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	s.eventually("the service serves generation 1", func() bool { return s.app.Catalog.Live("users").Number == 1 })
	s.eventually("the new generation has every write", func() bool {
		docs := snapshot(t, s, projections.UsersCollection)
		for i, id := range ids {
			if !strings.Contains(docs[id], fmt.Sprintf(`"Writer %d edit %d"`, i, counts[i]-1)) {
				return false
			}
		}
		return true
	})
	if out := s.mustCtl("verify", "users"); !strings.Contains(out, "every document matches") {
		t.Fatalf("verify after the rebuild:\n%s", out)
	}
	// Changed by hand: verify reports it and exits 1.
	physical := s.app.Catalog.Collection(projections.UsersCollection)
	if _, err := s.app.Platform.DB.Collection(physical).UpdateOne(context.Background(), bson.M{"_id": ids[3]}, bson.M{"$set": bson.M{"full_name": "tampered"}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := s.ctl(context.Background(), "verify", "users")
	if code != 1 || !strings.Contains(out, ids[3]) || !strings.Contains(out, "tampered") || !strings.Contains(errOut, "1 documents differ") {
		t.Fatalf("verify of a tampered document: exit %d\n%s\n%s", code, out, errOut)
	}
	// Interrupted: the live read model stays, still served.
	before := snapshot(t, s, projections.UsersCollection)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if code, _, errOut := s.ctl(ctx, "rebuild", "users"); code == 0 && !strings.Contains(errOut, "swapped") {
		t.Fatalf("interrupted rebuild: exit %d %s", code, errOut)
	}
	if gen := s.app.Catalog.Live("users").Number; gen != 1 && gen != 2 {
		t.Fatalf("generation %d", gen)
	}
	if after := snapshot(t, s, projections.UsersCollection); len(after) != len(before) {
		t.Fatalf("an interrupted rebuild changed the live read model: %d docs, was %d", len(after), len(before))
	}
	var me struct {
		FullName string `json:"full_name"`
	}
	token := s.signUp("reader")
	if st := s.get("/v1/me", token, &me); st != 200 {
		t.Fatalf("the service does not serve after the interrupted rebuild: %d", st)
	}
}

// A point-in-time copy goes into scratch collections and is never swapped in.
func TestRebuildUntil(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{})
	id := s.register("ada")
	time.Sleep(20 * time.Millisecond)
	then := time.Now()
	time.Sleep(20 * time.Millisecond)
	s.rename(id, "countess")
	s.mustCtl("rebuild", "users", "--until", then.UTC().Format(time.RFC3339Nano), "--into", "before_rename")
	var doc projections.UserDoc
	if err := s.app.Platform.DB.Collection("users__before_rename").FindOne(context.Background(), bson.M{"_id": id}).Decode(&doc); err != nil || doc.Username != "ada" {
		t.Fatalf("copy %+v %v", doc, err)
	}
	if s.app.Catalog.Live("users").Number != 0 {
		t.Fatal("the copy was swapped in")
	}
}
