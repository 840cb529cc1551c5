package projections

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/internal/platform"
)

// A stale write in a batch must not stop the writes after it, and must not
// change its document.
func TestApplySkipsStaleWritesAndKeepsGoing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", MongoListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x := &Executor{Projector: UsersProjector(), DB: p.DB}
	if err := x.apply(ctx, []Write{{UsersCollection, "a", 5, map[string]any{"name": "five"}}}, nil); err != nil {
		t.Fatal(err)
	}
	batch := []Write{
		{UsersCollection, "a", 3, map[string]any{"name": "three"}}, // redelivered, older
		{UsersCollection, "b", 1, map[string]any{"name": "one"}},
		{UsersCollection, "c", 2, map[string]any{"name": "two"}},
	}
	if err := x.apply(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := x.apply(ctx, []Write{{UsersCollection, "a", 6, map[string]any{"name": "six"}}}, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "six", "b": "one", "c": "two"}
	for id, name := range want {
		var doc bson.M
		if err := p.DB.Collection(UsersCollection).FindOne(ctx, bson.M{"_id": id}).Decode(&doc); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if doc["name"] != name {
			t.Errorf("%s: %v, want %s", id, doc, name)
		}
	}
}
