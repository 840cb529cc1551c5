package platform_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/testenv"
)

// The embedded stand-ins start, answer their real clients, and stop.
func TestEmbeddedPlatform(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := startPlatform(t, ctx, t.TempDir())
	coll := p.DB.Collection("probe")
	up := options.Update().SetUpsert(true)
	for _, v := range []string{"first", "second"} {
		if _, err := coll.UpdateOne(ctx, bson.M{"_id": "a"}, bson.M{"$set": bson.M{"x": v}}, up); err != nil {
			t.Fatal(err)
		}
	}
	var doc bson.M
	if err := coll.FindOne(ctx, bson.M{"_id": "a"}).Decode(&doc); err != nil || doc["x"] != "second" {
		t.Fatalf("doc %v, err %v", doc, err)
	}
	if _, err := p.ESDB.AppendToStream(ctx, "probe-1", esdb.AppendToStreamOptions{}, esdb.EventData{EventType: "probed", ContentType: esdb.ContentTypeJson, Data: []byte("{}")}); err != nil {
		t.Fatalf("event store: %v", err)
	}
	if _, err := p.JetStream.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream: %v", err)
	}
}

func TestIndexIDsMakesIDLookupsUseAnIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := startPlatform(t, ctx, dir)
	for range 2 { // idempotent: it runs at every start
		if err := p.IndexIDs(ctx, "users", "profiles"); err != nil {
			t.Fatal(err)
		}
	}
	coll := p.DB.Collection("users")
	for i := range 50 {
		if _, err := coll.InsertOne(ctx, bson.M{"_id": fmt.Sprintf("u%d", i), "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	var doc bson.M
	if err := coll.FindOne(ctx, bson.M{"_id": "u42"}).Decode(&doc); err != nil || doc["n"] != int32(42) {
		t.Fatalf("doc %v, err %v", doc, err)
	}
	// The query FerretDB runs for {_id: x} now finds its index.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ferretdb", "accounts.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = 'users'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table), `"u42"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	plan := ""
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	if !strings.Contains(plan, "USING INDEX") {
		t.Fatalf("lookup by _id still scans: %s", plan)
	}
}

// Under steady writes the embedded database's WAL is truncated now and then
// instead of growing for ever.
func TestWALIsTruncated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := startPlatform(t, ctx, dir)
	coll := p.DB.Collection("users")
	for i := range 300 {
		if _, err := coll.UpdateOne(ctx, bson.M{"_id": fmt.Sprint(i % 20)}, bson.M{"$set": bson.M{"n": i}}, options.Update().SetUpsert(true)); err != nil {
			t.Fatal(err)
		}
	}
	wal := filepath.Join(dir, "ferretdb", "accounts.sqlite-wal")
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := os.Stat(wal)
		if err == nil && info.Size() == 0 || os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes", info.Size())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startPlatform starts the embedded servers in dir on free ports.
func startPlatform(t *testing.T, ctx context.Context, dir string) *platform.Platform {
	t.Helper()
	p, err := platform.Start(ctx, platform.Config{DataDir: dir, EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// grepDir lists the files under dir that hold needle.
func grepDir(t *testing.T, dir, needle string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			raw, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if bytes.Contains(raw, []byte(needle)) {
				found = append(found, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// What the read models delete (a document, or a field a document loses)
// is not left readable in the database's files: not in free pages, not in
// free space inside a page, not in the WAL once it is truncated.
func TestDeletedDocumentsLeaveNothingInTheFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := startPlatform(t, ctx, dir)
	const gone, field, kept = "Deleted-Document-Marker-1", "Removed-Field-Marker-2", "Kept-Document-Marker-3"
	coll := p.DB.Collection("probe")
	for i := range 20 { // several pages, some overflowing
		doc := bson.M{"_id": fmt.Sprint(i), "text": strings.Repeat(gone, 1+i*20), "note": field, "other": kept}
		if _, err := coll.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := coll.DeleteMany(ctx, bson.M{"_id": bson.M{"$in": []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}}}); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 20; i++ {
		if _, err := coll.UpdateOne(ctx, bson.M{"_id": fmt.Sprint(i)}, bson.M{"$unset": bson.M{"text": "", "note": ""}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		found := append(grepDir(t, dir, gone), grepDir(t, dir, field)...)
		if len(found) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted content still readable in %v", found)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.Close()
	if found := append(grepDir(t, dir, gone), grepDir(t, dir, field)...); len(found) > 0 {
		t.Fatalf("deleted content readable after a stop in %v", found)
	}
	if len(grepDir(t, dir, kept)) == 0 {
		t.Fatal("the scan does not see the database's files")
	}
}

// A database an older version wrote without secure_delete may hold deleted
// content in its free space: the first start compacts it, once.
func TestOldDatabaseIsScrubbedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := startPlatform(t, ctx, dir)
	if _, err := p.DB.Collection("probe").InsertOne(ctx, bson.M{"_id": "a"}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	// What an older version left: a deletion not zeroed, and no mark.
	const old = "Old-Deleted-Marker-4"
	file := filepath.Join(dir, "ferretdb", "accounts.sqlite")
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=secure_delete(0)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{"CREATE TABLE old (t TEXT)", "INSERT INTO old VALUES ('" + strings.Repeat(old, 300) + "')", "DELETE FROM old",
		"PRAGMA user_version = 0", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	if len(grepDir(t, dir, old)) == 0 {
		t.Fatal("the old deletion is not in the file to begin with")
	}
	p = startPlatform(t, ctx, dir)
	if found := grepDir(t, dir, old); len(found) > 0 {
		t.Fatalf("an old deletion still readable in %v", found)
	}
	var doc bson.M
	if err := p.DB.Collection("probe").FindOne(ctx, bson.M{"_id": "a"}).Decode(&doc); err != nil {
		t.Fatalf("the data did not survive: %v", err)
	}
}

// Everything under the data directory is its owner's only, also what an
// older version left with looser modes.
func TestDataDirectoryIsPrivate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	// An older version's leftovers.
	if err := os.MkdirAll(filepath.Join(dir, "eventstore"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "eventstore"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "eventstore", "OLD-LEFTOVER"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "eventstore", "OLD-LEFTOVER"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPlatform(t, ctx, dir)
	if _, err := p.DB.Collection("probe").InsertOne(ctx, bson.M{"_id": "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ESDB.AppendToStream(ctx, "probe-1", esdb.AppendToStreamOptions{}, esdb.EventData{EventType: "probed", ContentType: esdb.ContentTypeJson, Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.JetStream.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.JetStream.Publish(ctx, "probe", []byte("x")); err != nil {
		t.Fatal(err)
	}
	testenv.AssertPrivate(t, dir)
}
