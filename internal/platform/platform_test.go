package platform_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/internal/platform"
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
