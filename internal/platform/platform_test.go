package platform_test

import (
	"context"

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
	p, err := platform.Start(ctx, platform.Config{
		DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", MongoListen: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
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
