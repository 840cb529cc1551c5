package projector

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/projections"
)

func write(id string, version uint64, name string) projections.Write {
	return projections.Write{Collection: projections.UsersCollection, ID: id, Version: version, Set: map[string]any{"name": name}}
}

// A stale write in a batch must not stop the writes after it, and must not
// change its document.
func TestApplySkipsStaleWritesAndKeepsGoing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x := &Executor{Projector: projections.UsersProjector(), DB: p.DB}
	if err := x.apply(ctx, []projections.Write{write("a", 5, "five")}, nil); err != nil {
		t.Fatal(err)
	}
	batch := []projections.Write{
		write("a", 3, "three"), // redelivered, older
		write("b", 1, "one"),
		write("c", 2, "two"),
	}
	if err := x.apply(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := x.apply(ctx, []projections.Write{write("a", 6, "six")}, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "six", "b": "one", "c": "two"}
	for id, name := range want {
		var doc bson.M
		if err := p.DB.Collection(projections.UsersCollection).FindOne(ctx, bson.M{"_id": id}).Decode(&doc); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if doc["name"] != name {
			t.Errorf("%s: %v, want %s", id, doc, name)
		}
	}
}

func envelope(t *testing.T, id, stream string, revision, position uint64, p events.Payload) events.Envelope {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return events.Envelope{ID: id, Stream: stream, Type: p.EventType(), Revision: revision, Position: position, Data: data,
		Metadata: json.RawMessage(`{"schema_version":1,"time":"2026-11-23T10:00:00Z"}`)}
}

func TestReduceParksWhatItCannotRead(t *testing.T) {
	name := "G"
	x := &Executor{Projector: projections.UsersProjector(), Keys: plaintext{}}
	good := envelope(t, "6ba7b810-9dad-11d1-80b4-00c04fd430c1", "user-7", 3, 20, events.UserRenamedV1{NewUsername: "grace"})
	broken := events.Envelope{ID: "6ba7b810-9dad-11d1-80b4-00c04fd430c2", Stream: "user-7", Type: events.UserRenamed, Revision: 4, Position: 21, Data: json.RawMessage(`7`)}
	unknown := events.Envelope{ID: "6ba7b810-9dad-11d1-80b4-00c04fd430c3", Stream: "user-7", Type: "user.from_the_future", Revision: 5, Position: 22, Data: json.RawMessage(`{}`)}
	later := envelope(t, "6ba7b810-9dad-11d1-80b4-00c04fd430c4", "user-7", 6, 23, events.UserProfileUpdatedV1{Profile: events.Profile{"full_name": name}})
	writes, parked, last := x.Reduce(context.Background(), []events.Envelope{good, broken, unknown, later})
	if len(writes) != 1 || writes[0].Version != 7 || writes[0].Set["username"] != "grace" || writes[0].Set["full_name"] != "G" {
		t.Fatalf("writes %+v", writes)
	}
	if len(parked) != 2 || parked[0].Envelope.ID != broken.ID || parked[1].Envelope.ID != unknown.ID {
		t.Fatalf("parked %+v", parked)
	}
	for _, p := range parked {
		if !strings.Contains(p.Err.Error(), p.Envelope.Type) {
			t.Errorf("park reason %q does not name the type", p.Err)
		}
	}
	if last != 23 {
		t.Fatalf("last position %d", last)
	}
}

// Appends fill buckets of a bounded size in log order, and a redelivered
// entry changes nothing; retention removes whole old buckets, never the
// newest.
func TestAuditAppendAndRetention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x := &Executor{Projector: projections.AuditProjector(), DB: p.DB}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var writes []projections.Write
	for i := range 450 {
		at := old
		if i >= 400 {
			at = time.Now().UTC()
		}
		writes = append(writes, projections.Write{Collection: projections.AuditIndexCollection, ID: "acct", Version: uint64(i + 1),
			Append: &projections.Append{Buckets: projections.AuditBucketCollection, Key: projections.AuditKey(uint64(i + 1)),
				Value: map[string]any{"time": at.Format(time.RFC3339Nano), "type": "x", "position": int64(i + 1)}, PerBucket: 200}})
	}
	if err := x.apply(ctx, writes[:300], nil); err != nil {
		t.Fatal(err)
	}
	// A new executor (after a restart) sees the redelivery of the last 100
	// with the rest.
	x = &Executor{Projector: projections.AuditProjector(), DB: p.DB}
	if err := x.apply(ctx, writes[200:], nil); err != nil {
		t.Fatal(err)
	}
	var idx projections.AuditIndexDoc
	if err := p.DB.Collection(projections.AuditIndexCollection).FindOne(ctx, bson.M{"_id": "acct"}).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	if idx.Seq != 2 || idx.Count != 50 || idx.Version != 450 {
		t.Fatalf("index %+v", idx)
	}
	total := 0
	for seq := range int64(3) {
		var b projections.AuditBucketDoc
		if err := p.DB.Collection(projections.AuditBucketCollection).FindOne(ctx, bson.M{"_id": projections.AuditBucketID("acct", seq)}).Decode(&b); err != nil {
			t.Fatal(err)
		}
		total += len(b.Entries)
	}
	if total != 450 {
		t.Fatalf("%d entries in the buckets", total)
	}
	if err := PruneAudit(ctx, p.DB, "", time.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, _ := p.DB.Collection(projections.AuditBucketCollection).CountDocuments(ctx, bson.M{})
	if err := p.DB.Collection(projections.AuditIndexCollection).FindOne(ctx, bson.M{"_id": "acct"}).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	if n != 1 || idx.First != 2 {
		t.Fatalf("%d buckets left, first %d", n, idx.First)
	}
}

// plaintext opens payloads that were never sealed: they are as they are.
type plaintext struct{}

func (plaintext) OpenPayload(_ context.Context, _ string, p events.Payload) (events.Payload, bool, error) {
	return p, false, nil
}

// Two executors of one read model (a pin moved while the old holder still
// wrote) each remember what they wrote; the database's guard, not their
// memos, decides: an older event after a newer one changes nothing, and a
// redelivered batch changes nothing.
func TestGuardedWritesNeverOlderOverNewer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	type step struct {
		executor int // 0 or 1
		writes   []projections.Write
	}
	appendAt := func(v uint64) projections.Write {
		return projections.Write{Collection: projections.AuditIndexCollection, ID: "acct", Version: v,
			Append: &projections.Append{Buckets: projections.AuditBucketCollection, Key: projections.AuditKey(v),
				Value: map[string]any{"position": int64(v)}, PerBucket: 200}}
	}
	cases := []struct {
		name  string
		steps []step
		want  map[string]string // id -> name
	}{
		{"an older event after a newer one, by the other executor", []step{
			{0, []projections.Write{write("a", 3, "three")}},
			{1, []projections.Write{write("a", 5, "five")}},
			{0, []projections.Write{write("a", 4, "four")}}, // its memo says 3: only the guard stops it
		}, map[string]string{"a": "five"}},
		{"a redelivered batch", []step{
			{0, []projections.Write{write("a", 1, "one"), write("b", 2, "two")}},
			{0, []projections.Write{write("a", 3, "three")}},
			{1, []projections.Write{write("a", 1, "one"), write("b", 2, "two")}},
		}, map[string]string{"a": "three", "b": "two"}},
		{"a stale write among fresh ones", []step{
			{1, []projections.Write{write("a", 9, "nine")}},
			{0, []projections.Write{write("b", 1, "one"), write("a", 8, "eight"), write("c", 2, "two")}},
		}, map[string]string{"a": "nine", "b": "one", "c": "two"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			suffix := fmt.Sprintf("__case%d", i)
			xs := []*Executor{
				{Projector: projections.UsersProjector(), DB: p.DB, Suffix: suffix},
				{Projector: projections.UsersProjector(), DB: p.DB, Suffix: suffix},
			}
			if err := p.IndexIDs(ctx, projections.UsersCollection+suffix); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				if err := xs[s.executor].apply(ctx, s.writes, nil); err != nil {
					t.Fatal(err)
				}
			}
			for id, name := range tc.want {
				var doc bson.M
				if err := p.DB.Collection(projections.UsersCollection+suffix).FindOne(ctx, bson.M{"_id": id}).Decode(&doc); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if doc["name"] != name {
					t.Errorf("%s: %v, want %s", id, doc, name)
				}
			}
		})
	}
	t.Run("an append log's index", func(t *testing.T) {
		if err := p.IndexIDs(ctx, projections.AuditIndexCollection, projections.AuditBucketCollection); err != nil {
			t.Fatal(err)
		}
		x0 := &Executor{Projector: projections.AuditProjector(), DB: p.DB}
		x1 := &Executor{Projector: projections.AuditProjector(), DB: p.DB}
		for _, s := range []step{
			{0, []projections.Write{appendAt(1), appendAt(2)}},
			{1, []projections.Write{appendAt(3), appendAt(4)}},
			{0, []projections.Write{appendAt(3)}}, // redelivered to the old holder: its memo says 2
		} {
			if err := []*Executor{x0, x1}[s.executor].apply(ctx, s.writes, nil); err != nil {
				t.Fatal(err)
			}
		}
		var idx projections.AuditIndexDoc
		if err := p.DB.Collection(projections.AuditIndexCollection).FindOne(ctx, bson.M{"_id": "acct"}).Decode(&idx); err != nil {
			t.Fatal(err)
		}
		if idx.Version != 4 || idx.Count != 4 {
			t.Fatalf("index %+v, want version 4 with 4 entries", idx)
		}
	})
}
