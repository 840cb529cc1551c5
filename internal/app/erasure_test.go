package app_test

import (
	"errors"
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
// every collection, the log so far and every file of the event store and
// of JetStream.
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
	for _, sub := range []string{"eventstore", "nats"} {
		_ = filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if raw, err := os.ReadFile(path); err == nil {
					out["file "+path] = string(raw)
				}
			}
			return nil
		})
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
// clear, personal data is never in clear in the log, and after deletion the
// account's e-mail and full name are nowhere readable.
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
	)
	call(t, base, "POST", "/v1/users", "", map[string]any{"username": "margaret", "password": pass1}, 201)
	admin := call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "margaret", "password": pass1}, 201)["token"].(string)
	call(t, base, "POST", "/v1/users", "", map[string]any{"username": "ada", "password": pass1, "email": oldEmail, "full_name": fullName}, 201)
	session := call(t, base, "POST", "/v1/sessions", "", map[string]any{"username": "ada", "password": pass1}, 201)["token"].(string)
	id := call(t, base, "GET", "/v1/auth/whoami", session, nil, 200)["user_id"].(string)
	call(t, base, "PATCH", "/v1/me", session, map[string]any{"email": email, "description": description}, 200)
	call(t, base, "PUT", "/v1/me/password", session, map[string]any{"current_password": pass1, "new_password": pass2, "confirm_password": pass2}, 204)
	cred := call(t, base, "POST", "/v1/me/credentials", session, map[string]any{"service": "git", "url": "https://git.example.com", "username": "ada", "secret": secret1}, 201)
	credPath := "/v1/me/credentials/" + cred["id"].(string)
	call(t, base, "PATCH", credPath, session, map[string]any{"secret": secret2}, 200)
	if got := call(t, base, "POST", credPath+"/reveal", session, map[string]any{"current_password": pass2}, 200)["secret"]; got != secret2 {
		t.Fatalf("revealed %v", got)
	}
	call(t, base, "POST", "/v1/admin/users/"+id+"/credentials", admin, map[string]any{"service": "ci", "url": "https://ci.example.com", "secret": secret1 + "-prov"}, 201)
	eventually(t, "read models caught up", func() bool { code, _ := readyz(t, base); return code == 200 })
	eventually(t, "the e-mails are in the outbox", func() bool {
		return len(call(t, base, "GET", "/v1/admin/outbox", admin, nil, 200)["emails"].([]any)) >= 2
	})
	time.Sleep(200 * time.Millisecond)

	hay := haystacks(t, a, dir, &logs)
	if len(hay) < 10 || !strings.Contains(hay["events"], `"type"`) && !strings.Contains(hay["events"], "user_id") {
		t.Fatalf("the scan sees too little: %d places", len(hay))
	}
	if found := find(hay, pass1, pass2, secret1, secret2, session); len(found) > 0 {
		t.Fatalf("secrets in clear: %v", found)
	}
	// Personal data is sealed in the log (the read models may hold it
	// while the account lives).
	events := map[string]string{"events": hay["events"]}
	for k, v := range hay {
		if strings.HasPrefix(k, "file ") {
			events[k] = v
		}
	}
	if found := find(events, email, oldEmail, fullName, description); len(found) > 0 {
		t.Fatalf("personal data in clear in the log: %v", found)
	}
	if !strings.Contains(hay["collection users"], email) {
		t.Fatal("the scan does not see the read models")
	}
	var inFiles []string
	for k, v := range events {
		if k != "events" && strings.Contains(v, "credential.created") {
			inFiles = append(inFiles, k)
		}
	}
	if !slices.ContainsFunc(inFiles, func(s string) bool { return strings.Contains(s, "/eventstore/") }) ||
		!slices.ContainsFunc(inFiles, func(s string) bool { return strings.Contains(s, "/nats/") }) {
		t.Fatalf("the scan does not see the event store's and JetStream's files: %v", inFiles)
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
	time.Sleep(200 * time.Millisecond)
	hay = haystacks(t, a, dir, &logs)
	if found := find(hay, email, oldEmail, fullName, description, secret1, secret2); len(found) > 0 {
		t.Fatalf("erased data readable: %v", found)
	}
	// And it cannot be decrypted any more: the data key is gone.
	var key bson.M
	if err := a.Platform.DB.Collection("data_keys").FindOne(t.Context(), bson.M{"_id": id}).Decode(&key); err != nil || key["wrapped"] != nil || key["destroyed_at"] == nil {
		t.Fatalf("data key after deletion: %v %v", key, err)
	}
}
