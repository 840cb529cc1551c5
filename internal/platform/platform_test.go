package platform_test

import (
	"context"
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
	p, err := platform.Start(ctx, platform.Config{
		DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", MongoListen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	coll := p.DB.Collection("probe")
	// The guarded upsert every projector relies on: a stale write finds the
	// newer document and fails as a duplicate key instead of applying.
	up := options.Update().SetUpsert(true)
	if _, err := coll.UpdateOne(ctx, bson.M{"_id": "a", "_v": bson.M{"$lt": 2}}, bson.M{"$set": bson.M{"_v": 2, "x": "new"}}, up); err != nil {
		t.Fatal(err)
	}
	_, err = coll.UpdateOne(ctx, bson.M{"_id": "a", "_v": bson.M{"$lt": 1}}, bson.M{"$set": bson.M{"_v": 1, "x": "old"}}, up)
	if err == nil {
		t.Fatal("stale guarded upsert succeeded")
	}
	t.Logf("stale upsert error: %v", err)
	var doc bson.M
	if err := coll.FindOne(ctx, bson.M{"_id": "a"}).Decode(&doc); err != nil || doc["x"] != "new" {
		t.Fatalf("doc %v, err %v", doc, err)
	}
	if _, err := p.JetStream.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream: %v", err)
	}
}
