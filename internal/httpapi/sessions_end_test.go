package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/internal/tokens"
)

func sessionID(t testing.TB, c *client) string {
	t.Helper()
	id, _, ok := tokens.ParseSession(c.token)
	if !ok {
		t.Fatalf("not a session token: %q", c.token)
	}
	return id
}

// signInQuickly starts a session through the sign-in use case itself, as
// POST /v1/sessions does, for tests that need many: over HTTP each would
// also be checked against the OpenAPI document.
func signInQuickly(t testing.TB, a *app.App, srv *httptest.Server, username, password string) *client {
	t.Helper()
	in, err := a.Commands.SignIn(t.Context(), commands.SignIn{Username: username, Password: password},
		events.Metadata{Actor: events.ActorAnonymous, ClientIP: "127.0.0.1", UserAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: srv.URL, token: in.Token}
}

// The read-your-writes wait is bounded (2 s by default) so that a slow
// read model cannot hang a request; these tests check which writes it
// waits for, not how fast a loaded machine projects them.
var patientReads = app.Config{ReadYourWritesTimeout: time.Minute}

// A password change ends the other sessions for real: each has its own
// session.ended, the caller's list right after the change never shows one
// (50 changes in a row), ending the rest still works, and the security log
// has every end.
func TestPasswordChangeEndsOtherSessionsForReal(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, patientReads, "")
	me := signUp(t, srv, "hopper", nil)
	user := whoami(me)
	passwords := [2]string{"correct7horse", "battery9staple"}
	const rounds, others = 50, 4
	ended := map[string]bool{}
	for round := range rounds {
		current, next := passwords[round%2], passwords[(round+1)%2]
		var signedIn []*client
		for i := range others {
			var c *client
			if round == 0 && i == 0 {
				c = signIn(t, srv, "hopper", current) // one over HTTP, as the issue did
			} else {
				c = signInQuickly(t, a, srv, "hopper", current)
			}
			signedIn = append(signedIn, c)
			ended[sessionID(t, c)] = true
		}
		me.expect(http.StatusNoContent, me.do("PUT", "/v1/me/password", map[string]any{"current_password": current, "new_password": next, "confirm_password": next}))
		list := me.expect(http.StatusOK, me.do("GET", "/v1/me/sessions", nil)).json(t)["sessions"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != sessionID(t, me) {
			t.Fatalf("round %d: sessions right after the change: %v", round, list)
		}
		if round == 0 || round == rounds-1 {
			for _, c := range signedIn {
				c.expect(http.StatusUnauthorized, c.do("GET", "/v1/me", nil))
			}
		}
	}

	// Ending the others still finds what it should.
	last := passwords[rounds%2]
	laptop, phone := signIn(t, srv, "hopper", last), signIn(t, srv, "hopper", last)
	if list := me.expect(http.StatusOK, me.do("GET", "/v1/me/sessions", nil)).json(t)["sessions"].([]any); len(list) != 3 {
		t.Fatalf("after two sign-ins: %v", list)
	}
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/me/sessions", nil))
	if list := me.expect(http.StatusOK, me.do("GET", "/v1/me/sessions", nil)).json(t)["sessions"].([]any); len(list) != 1 {
		t.Fatalf("after ending the others: %v", list)
	}
	laptop.expect(http.StatusUnauthorized, laptop.do("GET", "/v1/me", nil))
	phone.expect(http.StatusUnauthorized, phone.do("GET", "/v1/me", nil))

	// The log: one session.ended per session the changes ended, for that reason.
	endings := map[string][]string{} // session -> reasons
	rs, err := a.Platform.ESDB.ReadAll(t.Context(), esdb.ReadAllOptions{From: esdb.Start{}}, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := eventlog.Decode(ev.Event); err == nil {
			if p, ok := rec.Payload.(events.SessionEndedV1); ok && p.UserID == user {
				endings[p.SessionID] = append(endings[p.SessionID], p.Reason)
			}
		}
	}
	rs.Close()
	for id := range ended {
		if r := endings[id]; len(r) != 1 || r[0] != events.SessionPasswordChanged {
			t.Fatalf("session %s ended %v", id, r)
		}
	}
	if len(endings) != len(ended)+2 {
		t.Fatalf("%d sessions ended, want %d", len(endings), len(ended)+2)
	}

	// The security log shows every one of them.
	raw := me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?format=ndjson&type=session.ended", nil)).body
	byPasswordChange := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var e struct{ Type, Summary string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Type == events.SessionEnded && e.Summary == "Session ended (password changed)" {
			byPasswordChange++
		}
	}
	if byPasswordChange != len(ended) {
		t.Fatalf("security log: %d sessions ended by a password change, want %d", byPasswordChange, len(ended))
	}
}

// Disabling an account ends each of its sessions with its own
// session.ended, and the admin's list of its sessions right after never
// shows one (10 times in a row); enabling it brings none back.
func TestDisableEndsSessionsForReal(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}, ReadYourWritesTimeout: patientReads.ReadYourWritesTimeout}, "")
	admin := signUp(t, srv, "margaret", nil)
	ada := signUp(t, srv, "ada", nil)
	w := adminWorld{a: a, srv: srv, admin: admin, ada: ada, adaID: whoami(ada)}
	path := "/v1/admin/users/" + w.adaID
	ended := 0
	for round := range 10 {
		if round > 0 {
			w.admin.expect(http.StatusOK, w.admin.do("POST", path+"/enable", nil))
		}
		var signedIn []*client
		for range 3 {
			signedIn = append(signedIn, signInQuickly(t, w.a, w.srv, "ada", "correct7horse"))
		}
		ended += len(signedIn)
		w.admin.expect(http.StatusOK, w.admin.do("POST", path+"/disable", nil))
		if list := w.admin.expect(http.StatusOK, w.admin.do("GET", path+"/sessions", nil)).json(t)["sessions"].([]any); len(list) != 0 {
			t.Fatalf("round %d: sessions right after disabling: %v", round, list)
		}
		if round == 0 {
			for _, c := range signedIn {
				c.expect(http.StatusUnauthorized, c.do("GET", "/v1/me", nil))
			}
		}
	}
	w.admin.expect(http.StatusOK, w.admin.do("POST", path+"/enable", nil))
	ada = signIn(t, w.srv, "ada", "correct7horse")
	raw := ada.expect(http.StatusOK, ada.do("GET", "/v1/me/audit?format=ndjson&type=session.ended", nil)).body
	byDisable := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var e struct{ Summary string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Summary == "Session ended (account disabled)" {
			byDisable++
		}
	}
	// The first session (signUp's) ended in the first round too.
	if byDisable != ended+1 {
		t.Fatalf("security log: %d sessions ended by disabling, want %d", byDisable, ended+1)
	}
}
