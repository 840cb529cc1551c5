package httpapi_test

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

type auditPage struct {
	Entries []struct {
		ID, Type, Actor, Time, Summary string
		ClientIP                       string `json:"client_ip"`
		UserAgent                      string `json:"user_agent"`
		Credential                     *struct{ Kind, ID string }
		Changes                        []struct{ Field, From, To string }
	}
	NextCursor *string `json:"next_cursor"`
}

// The security log of a full scenario has one entry per event about the
// account, newest first, with actor, credential and address, and no secret.
func TestSecurityLog(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "babbage", map[string]any{"preferred_timezone": "Asia/Tokyo"})
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"full_name": "Charles", "description": "Engines"}))
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me", map[string]any{"full_name": "Charles Babbage"}))
	me.expect(http.StatusOK, me.do("PUT", "/v1/me/username", map[string]any{"username": "analytical"}))
	pat, tok := newToken(t, me, "profile:read", "audit:read")
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me", nil))
	me.expect(http.StatusNoContent, me.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "battery9staple", "confirm_password": "battery9staple"}))

	// What the log holds about the account, newest first.
	account := me.whoami(t)
	var want []string
	rs, err := a.Platform.ESDB.ReadAll(t.Context(), esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10_000)
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
		if rec, err := eventlog.Decode(ev.Event); err == nil && projections.AuditAccount(rec) == account {
			want = append(want, rec.ID.String())
		}
	}
	rs.Close()
	var got auditPage
	_ = json.Unmarshal(me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?limit=200", nil)).body, &got)
	if len(got.Entries) != len(want) || got.NextCursor != nil {
		t.Fatalf("%d entries, want %d", len(got.Entries), len(want))
	}
	for i, e := range got.Entries {
		if e.ID != want[i] {
			t.Fatalf("entry %d is %s, want %s", i, e.ID, want[i])
		}
		if !strings.HasSuffix(e.Time, "+09:00") {
			t.Fatalf("time %s not in the user's zone", e.Time)
		}
	}
	var sawProfile, sawPAT bool
	for _, e := range got.Entries {
		if e.Type == "user.profile_updated" && strings.Contains(e.Summary, `full name "Charles" → "Charles Babbage"`) && e.Credential != nil && e.Credential.Kind == "session" && e.ClientIP == "127.0.0.1" {
			sawProfile = true
		}
		if e.Type == "token.used" && e.Credential != nil && e.Credential.Kind == "token" && e.Credential.ID == tok["id"] {
			sawPAT = true
		}
	}
	if !sawProfile || !sawPAT {
		t.Fatalf("entries %+v", got.Entries)
	}
	raw := string(me.do("GET", "/v1/me/audit?limit=200", nil).body)
	for _, secret := range []string{"correct7horse", "battery9staple", pat.token, me.token, "$argon2id$"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the security log shows %q", secret)
		}
	}

	// Pages of 3, cursor to cursor, cover the same entries.
	var paged []string
	cursor := ""
	for {
		var p auditPage
		_ = json.Unmarshal(me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?limit=3&cursor="+cursor, nil)).body, &p)
		for _, e := range p.Entries {
			paged = append(paged, e.ID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if strings.Join(paged, ",") != strings.Join(want, ",") {
		t.Fatalf("paged %v\nwant %v", paged, want)
	}
	// Filters.
	var tokens auditPage
	_ = json.Unmarshal(me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?type=token.", nil)).body, &tokens)
	for _, e := range tokens.Entries {
		if !strings.HasPrefix(e.Type, "token.") {
			t.Fatalf("type filter let %s through", e.Type)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var none auditPage
	_ = json.Unmarshal(me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?since="+future, nil)).body, &none)
	if len(tokens.Entries) < 2 || len(none.Entries) != 0 {
		t.Fatalf("%d token entries, %d in the future", len(tokens.Entries), len(none.Entries))
	}
	for _, bad := range []string{"limit=0", "limit=201", "since=yesterday", "cursor=bogus"} {
		me.expect(http.StatusUnprocessableEntity, me.do("GET", "/v1/me/audit?"+bad, nil))
	}
	// A token needs audit:read; a token's own activity.
	pat.expect(http.StatusOK, pat.do("GET", "/v1/me/audit", nil))
	noAudit, _ := newToken(t, me, "profile:read")
	noAudit.expect(http.StatusForbidden, noAudit.do("GET", "/v1/me/audit", nil))
	var activity auditPage
	_ = json.Unmarshal(me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+tok["id"].(string)+"/activity", nil)).body, &activity)
	if len(activity.Entries) == 0 {
		t.Fatal("no activity for a used token")
	}
	for _, e := range activity.Entries {
		if e.Credential == nil || e.Credential.ID != tok["id"] {
			t.Fatalf("activity of another credential: %+v", e)
		}
	}
	me.expect(http.StatusNotFound, me.do("GET", "/v1/me/tokens/6ba7b810-9dad-11d1-80b4-00c04fd430c8/activity", nil))

	// Exports: every entry, streamed (the requests above added some).
	var all auditPage
	_ = json.Unmarshal(me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?limit=200", nil)).body, &all)
	want = want[:0]
	for _, e := range all.Entries {
		want = append(want, e.ID)
	}
	nd := me.expect(http.StatusOK, me.do("GET", "/v1/me/audit?format=ndjson", nil))
	if nd.header.Get("Content-Type") != "application/x-ndjson" || strings.Count(string(nd.body), "\n") != len(want) {
		t.Fatalf("ndjson: %s %d lines", nd.header.Get("Content-Type"), strings.Count(string(nd.body), "\n"))
	}
	csvRes := me.expect(http.StatusOK, me.do("GET", "/v1/me/audit", nil, "Accept", "text/csv"))
	rows, err := csv.NewReader(strings.NewReader(string(csvRes.body))).ReadAll()
	if err != nil || len(rows) != len(want)+1 || rows[0][0] != "time" {
		t.Fatalf("csv: %v %d rows", err, len(rows))
	}
}

func (c *client) whoami(t *testing.T) string {
	var w struct {
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal(c.expect(http.StatusOK, c.do("GET", "/v1/auth/whoami", nil)).body, &w)
	return w.UserID
}

// A user agent that is a spreadsheet formula comes out of a CSV export as
// text (a leading apostrophe), from the user's and the admin's export; the
// JSON lines keep it as sent.
func TestAuditCSVIsSafeInSpreadsheets(t *testing.T) {
	t.Parallel()
	w := newAdminWorld(t)
	const formula = "=cmd|' /C calc'!A0"
	w.ada.expect(http.StatusOK, w.ada.do("PATCH", "/v1/me", map[string]any{"description": "spreadsheet"}, "User-Agent", formula))
	userAgents := func(c *client, path string) []string {
		t.Helper()
		res := c.expect(http.StatusOK, c.do("GET", path, nil))
		rows, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
		if err != nil || len(rows) < 2 || rows[0][7] != "user_agent" {
			t.Fatalf("%s: %v %q", path, err, res.body)
		}
		var out []string
		for _, row := range rows[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Fatalf("%s: cell %q can start a formula", path, cell)
				}
			}
			out = append(out, row[7])
		}
		return out
	}
	for _, tt := range []struct {
		name string
		who  *client
		path string
	}{
		{"the user's export", w.ada, "/v1/me/audit?format=csv"},
		{"the admin's export", w.admin, "/v1/admin/users/" + w.adaID + "/audit?format=csv"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.who.t = t
			if got := userAgents(tt.who, tt.path); !slices.Contains(got, "'"+formula) {
				t.Fatalf("user agents %q", got)
			}
		})
	}
	w.ada.t = t
	nd := string(w.ada.expect(http.StatusOK, w.ada.do("GET", "/v1/me/audit?format=ndjson", nil)).body)
	if !strings.Contains(nd, `"user_agent":"=cmd|' /C calc'!A0"`) {
		t.Fatalf("JSON lines changed the user agent: %s", nd)
	}
}
