package app_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// haystacks gathers every event (payload and metadata), every document of
// every collection, the log so far and every file under the data
// directory: the event store's, JetStream's and FerretDB's (the SQLite
// database with its -wal and -shm files).
func haystacks(t *testing.T, a *app.App, dir string, logs *lockedBuffer) map[string]string {
	t.Helper()
	out := map[string]string{"log": logs.String()}
	rs, err := a.Platform.ESDB.ReadAll(t.Context(), esdb.ReadAllOptions{}, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var evs strings.Builder
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		evs.Write(ev.Event.Data)
		evs.Write(ev.Event.UserMetadata)
	}
	rs.Close()
	out["events"] = evs.String()
	names, err := a.Platform.DB.ListCollectionNames(t.Context(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range names {
		cur, err := a.Platform.DB.Collection(c).Find(t.Context(), bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(t.Context(), &docs); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, d := range docs {
			raw, _ := bson.MarshalExtJSON(d, false, false)
			b.Write(raw)
		}
		out["collection "+c] = b.String()
	}
	for k, v := range files(t, dir) {
		out[k] = v
	}
	return out
}

// files reads every regular file under dir.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking (a temporary file)
			}
			return err
		}
		if d.Type().IsRegular() {
			raw, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			out["file "+path] = string(raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func find(hay map[string]string, needles ...string) []string {
	var found []string
	for where, h := range hay {
		for _, n := range needles {
			if strings.Contains(h, n) {
				found = append(found, n+" in "+where)
			}
		}
	}
	return found
}

// After a full scenario no password or credential secret is anywhere in
// clear, personal data (what the user typed: profile, token titles,
// credentials' service, URL, account name and note, and the notifications
// that name them) is never in clear in the log, and after deletion none of
// it is readable anywhere: not in the log, JetStream, the read models, the
// files of any of them (FerretDB's SQLite database, its WAL and free pages
// included), nor in what an admin reads of the account.
func TestSecretsAndErasure(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	a, srv := testenv.App(t, app.Config{Logger: logger, AccessLog: logger, Admins: []string{"margaret"}}, dir)
	base := srv.URL
	const (
		pass1, pass2 = "first-Secret-9x", "second-Secret-9y"
		secret1      = "ghp-Scan-Me-Secret-42"
		secret2      = "ghp-Rotated-Secret-43"
		email        = "augusta.scan@example.org"
		oldEmail     = "ada.first@example.org"
		fullName     = "Augusta Scanned Lovelace"
		description  = "Wrote the first published algorithm"
		tokenTitle   = "Zephyr-Deploy-Title-77"
		tokenTitle2  = "Zephyr-Renamed-Title-78"
		credService  = "Quokka-Forge-Service"
		credURL      = "https://quokka-forge.example.net/ada-repo"
		credAccount  = "ada-quokka-account"
		credNote     = "Note about the Quokka vault 91"
		provService  = "Wombat-CI-Service"
		provURL      = "https://wombat-ci.example.net/pipelines"
		employeeID   = "EMP-Numbat-4711"
		department   = "Numbat Analytical Department"
	)
	personal := []string{email, oldEmail, fullName, description, tokenTitle, tokenTitle2, credService, credURL, credAccount, credNote, provService, provURL,
		employeeID, department}
	call(t, base, "POST", "/v1/users", "", map[string]any{"username": "margaret", "password": pass1}, 201)
	admin := call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "margaret", "password": pass1}, 201)["token"].(string)
	call(t, base, "POST", "/v1/users", "", map[string]any{"username": "ada", "password": pass1, "email": oldEmail, "full_name": fullName}, 201)
	session := call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "ada", "password": pass1}, 201)["token"].(string)
	id := call(t, base, "GET", "/v1/auth/whoami", session, nil, 200)["user_id"].(string)
	call(t, base, "PATCH", "/v1/me", session, map[string]any{"email": email, "description": description}, 200)
	call(t, base, "PUT", "/v1/me/password", session, map[string]any{"current_password": pass1, "new_password": pass2, "confirm_password": pass2}, 204)
	cred := call(t, base, "POST", "/v1/me/credentials", session, map[string]any{"service": credService, "url": credURL, "username": credAccount,
		"secret": secret1, "note": credNote}, 201)
	credPath := "/v1/me/credentials/" + cred["id"].(string)
	call(t, base, "PATCH", credPath, session, map[string]any{"secret": secret2}, 200)
	if got := call(t, base, "POST", credPath+"/reveal", session, map[string]any{"current_password": pass2}, 200)["secret"]; got != secret2 {
		t.Fatalf("revealed %v", got)
	}
	call(t, base, "POST", "/v1/admin/users/"+id+"/credentials", admin, map[string]any{"service": provService, "url": provURL, "secret": secret1 + "-prov"}, 201)
	call(t, base, "PATCH", "/v1/admin/users/"+id, admin, map[string]any{"employee_id": employeeID, "department": department}, 200)
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	tok := call(t, base, "POST", "/v1/me/tokens", session, map[string]any{"title": tokenTitle, "scopes": []string{"profile:read"}, "expires_at": expires}, 201)
	call(t, base, "PATCH", "/v1/me/tokens/"+tok["id"].(string), session, map[string]any{"title": tokenTitle2}, 200)
	eventually(t, "read models caught up", func() bool { code, _ := readyz(t, base); return code == 200 })
	eventually(t, "the e-mails are in the outbox", func() bool {
		return len(call(t, base, "GET", "/v1/admin/outbox", admin, nil, 200)["emails"].([]any)) >= 2
	})
	// The owner reads what they typed, in the feed and in the security log.
	eventually(t, "the feed names the token and the services", func() bool {
		feed := fmt.Sprint(call(t, base, "GET", "/v1/me/notifications", session, nil, 200))
		return strings.Contains(feed, tokenTitle) && strings.Contains(feed, credService) && strings.Contains(feed, provService)
	})
	auditText := fmt.Sprint(call(t, base, "GET", "/v1/me/audit?limit=200", session, nil, 200))
	for _, s := range []string{tokenTitle, tokenTitle2, credService, credURL, provService, provURL, email, employeeID, department} {
		if !strings.Contains(auditText, s) {
			t.Fatalf("the security log does not show %q: %s", s, auditText)
		}
	}
	time.Sleep(200 * time.Millisecond)

	hay := haystacks(t, a, dir, &logs)
	if len(hay) < 10 || !strings.Contains(hay["events"], `"type"`) && !strings.Contains(hay["events"], "user_id") {
		t.Fatalf("the scan sees too little: %d places", len(hay))
	}
	if found := find(hay, pass1, pass2, secret1, secret2, session); len(found) > 0 {
		t.Fatalf("secrets in clear: %v", found)
	}
	// Personal data is sealed in the log and in JetStream (the read models
	// may hold it while the account lives).
	events := map[string]string{"events": hay["events"]}
	for k, v := range hay {
		if strings.HasPrefix(k, "file ") && (strings.Contains(k, "/eventstore/") || strings.Contains(k, "/nats/")) {
			events[k] = v
		}
	}
	if found := find(events, personal...); len(found) > 0 {
		t.Fatalf("personal data in clear in the log: %v", found)
	}
	if !strings.Contains(hay["collection users"], email) {
		t.Fatal("the scan does not see the read models")
	}
	testenv.AssertPrivate(t, dir) // 0700 directories, 0600 files
	var inFiles []string
	for k, v := range hay {
		if strings.HasPrefix(k, "file ") && (strings.Contains(v, "credential.created") || strings.Contains(v, email)) {
			inFiles = append(inFiles, k)
		}
	}
	for _, sub := range []string{"/eventstore/", "/nats/", "/ferretdb/"} {
		if !slices.ContainsFunc(inFiles, func(s string) bool { return strings.Contains(s, sub) }) {
			t.Fatalf("the scan does not see the files under %s: %v", sub, inFiles)
		}
	}

	call(t, base, "DELETE", "/v1/me", session, map[string]any{"current_password": pass2}, 204)
	eventually(t, "the read models show the deletion", func() bool {
		return call(t, base, "GET", "/v1/admin/users/"+id, admin, nil, 200)["status"] == "deleted"
	})
	eventually(t, "the outbox forgot the account", func() bool {
		for _, m := range call(t, base, "GET", "/v1/admin/outbox", admin, nil, 200)["emails"].([]any) {
			if m.(map[string]any)["user_id"] == id {
				return false
			}
		}
		return true
	})
	eventually(t, "read models caught up", func() bool { code, _ := readyz(t, base); return code == 200 })

	// What admins read of the account: what happened, the values erased.
	audit := call(t, base, "GET", "/v1/admin/users/"+id+"/audit?limit=200", admin, nil, 200)
	if found := find(map[string]string{"audit": fmt.Sprint(audit)}, personal...); len(found) > 0 {
		t.Fatalf("the security log shows erased data: %v", found)
	}
	erasedSummaries := map[string]bool{}
	for _, e := range audit["entries"].([]any) {
		e := e.(map[string]any)
		if strings.Contains(e["summary"].(string), "(erased)") {
			erasedSummaries[e["type"].(string)] = true
		}
	}
	for _, typ := range []string{"token.created", "credential.created"} {
		if !erasedSummaries[typ] {
			t.Errorf("no %s entry says its values were erased: %v", typ, audit["entries"])
		}
	}
	feed := call(t, base, "GET", "/v1/admin/users/"+id+"/notifications", admin, nil, 200)
	if found := find(map[string]string{"feed": fmt.Sprint(feed)}, personal...); len(found) > 0 {
		t.Fatalf("the notification feed shows erased data: %v", found)
	}
	erasedNotices := 0
	for _, n := range feed["notifications"].([]any) {
		n := n.(map[string]any)
		switch n["kind"] {
		case "token_created", "credential_changed":
			if n["erased"] != true || !strings.Contains(n["title"].(string), "(erased)") {
				t.Errorf("a notice that named what the user typed is not marked erased: %v", n)
			}
			erasedNotices++
		}
	}
	if erasedNotices < 3 {
		t.Errorf("%d erased notices in %v", erasedNotices, feed)
	}

	// Nothing readable anywhere, files included, once the database has
	// settled (its write-ahead log is checkpointed every second).
	deadline := time.Now().Add(20 * time.Second)
	for {
		hay = haystacks(t, a, dir, &logs)
		found := find(hay, append(personal, secret1, secret2)...)
		if len(found) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("erased data readable: %v", found)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// And it cannot be decrypted any more: the data key is gone.
	var key bson.M
	if err := a.Platform.DB.Collection("data_keys").FindOne(t.Context(), bson.M{"_id": id}).Decode(&key); err != nil || key["wrapped"] != nil || key["destroyed_at"] == nil {
		t.Fatalf("data key after deletion: %v %v", key, err)
	}
	// Stopped, the files hold nothing either.
	srv.Close()
	a.Close()
	if found := find(files(t, dir), append(personal, secret1, secret2)...); len(found) > 0 {
		t.Fatalf("erased data readable in the files after a stop: %v", found)
	}
}
