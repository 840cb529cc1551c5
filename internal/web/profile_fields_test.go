package web_test

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

// A field added to the table of profile fields, and nowhere else, is in
// the console's profile form, sealed in the log (its value is nowhere in
// the event store's bytes) and erased after the account's deletion (from
// every file of the data directory). Not parallel: it changes the table
// the package's services read.
func TestAFieldDeclaredOnlyInTheTable(t *testing.T) {
	saved := events.ProfileFields
	t.Cleanup(func() { events.ProfileFields = saved }) // after the service stops
	events.ProfileFields = append(slices.Clip(saved), events.ProfileField{Name: "shoe_size", Personal: true,
		Rule: events.FieldRule{Kind: events.KindText, MaxLength: 40}, Label: "ui.field.description"})
	const marker = "Size-Forty-Two-Marker"

	dir := t.TempDir()
	a, srv := testenv.App(t, app.Config{}, dir)
	b := signUp(t, srv, "ada")
	if form := expect(t, b.get("/settings/profile"), http.StatusOK).body; !strings.Contains(form, `name="shoe_size"`) {
		t.Fatal("the profile form has no shoe_size")
	}
	expect(t, b.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "preferred_timezone": {"Europe/Istanbul"},
		"shoe_size": {marker}}), http.StatusSeeOther)
	if form := expect(t, b.get("/settings/profile"), http.StatusOK).body; !strings.Contains(form, marker) {
		t.Fatal("the profile form does not show the saved shoe_size")
	}

	// Sealed: not in any event's bytes, nor in the event store's files.
	rs, err := a.Platform.ESDB.ReadAll(t.Context(), esdb.ReadAllOptions{}, 1_000_000)
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
		if strings.Contains(string(ev.Event.Data), marker) {
			t.Fatalf("in clear in %s", ev.Event.EventType)
		}
	}
	rs.Close()
	if found := filesWith(t, filepath.Join(dir, "eventstore"), marker); len(found) > 0 {
		t.Fatalf("in clear in the event store's files: %v", found)
	}
	if found := filesWith(t, dir, marker); len(found) == 0 {
		t.Fatal("the scan does not see the read model's files")
	}

	// Erased: after the deletion, in no file of the data directory.
	p, err := a.Queries.GetProfile(t.Context(), "", "ada")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.DeleteUser(t.Context(), commands.DeleteUser{UserID: p.UserID, Confirmed: true}, events.Metadata{Actor: p.UserID}); err != nil {
		t.Fatal(err)
	}
	users := a.Platform.DB.Collection(a.Catalog.Collection(projections.UsersCollection))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var doc projections.UserDoc
		err := users.FindOne(t.Context(), bson.M{"_id": p.UserID}).Decode(&doc)
		found := filesWith(t, dir, marker)
		if err == nil && doc.Deleted() && len(found) == 0 {
			if _, kept := doc.Profile.Given("shoe_size"); kept {
				t.Fatal("the read model kept shoe_size")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not erased: deleted %v, in %v", doc.Deleted(), found)
		}
	}
}

// filesWith lists the files under dir that contain s.
func filesWith(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a temporary file, gone meanwhile
			}
			return err
		}
		if d.Type().IsRegular() {
			raw, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if strings.Contains(string(raw), s) {
				out = append(out, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
