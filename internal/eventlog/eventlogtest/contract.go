// Package eventlogtest is the contract every commands.EventLog must pass:
// the EventStoreDB client and the in-memory log run the same suite.
package eventlogtest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

// Run runs the contract against logs made by open, one per subtest.
func Run(t *testing.T, open func(t *testing.T) commands.EventLog) {
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, log commands.EventLog)
	}{
		{"a stream never written has no events", missingStream},
		{"appends round-trip payloads and metadata", roundTrip},
		{"no_stream creates once", noStreamCreatesOnce},
		{"expected revision is checked and a refused append writes nothing", expectedRevision},
		{"reads after a revision return only later events", readAfter},
		{"positions grow across streams", positionsGrow},
		{"one of many racing appenders wins", oneRacerWins},
		{"a cancelled context fails", cancelled},
		{"events before a truncation are no longer read", truncateBefore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tt.run(t, ctx, open(t))
		})
	}
}

func stream() string { return events.UserStream(uuid.NewString()) }

func meta(actor string) events.Metadata {
	return events.Metadata{Actor: actor, CorrelationID: "corr", CausationID: "cause", ClientIP: "192.0.2.7", UserAgent: "contract",
		Time: time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)}
}

func s(v string) *string { return &v }

func mustAppend(t *testing.T, ctx context.Context, log commands.EventLog, stream string, expected commands.Version, ps ...events.Payload) commands.Appended {
	t.Helper()
	res, err := log.Append(ctx, stream, expected, meta("u"), ps...)
	if err != nil {
		t.Fatalf("append to %s at %d: %v", stream, expected, err)
	}
	return res
}

func read(t *testing.T, ctx context.Context, log commands.EventLog, stream string, after commands.Version) []events.Recorded {
	t.Helper()
	recs, err := log.ReadStream(ctx, stream, after)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return recs
}

func missingStream(t *testing.T, ctx context.Context, log commands.EventLog) {
	if recs := read(t, ctx, log, stream(), commands.NoStream); len(recs) != 0 {
		t.Fatalf("%d events in a new stream", len(recs))
	}
}

func roundTrip(t *testing.T, ctx context.Context, log commands.EventLog) {
	st := stream()
	payloads := []events.Payload{
		events.UserRegisteredV1{UserID: "u", Username: "ada", PasswordHash: "$argon2id$x", Profile: events.Profile{"email": "a@b.co", "description": ""}},
		events.UserRenamedV1{UserID: "u", OldUsername: "ada", NewUsername: "grace"},
	}
	m := meta("actor-1")
	res, err := log.Append(ctx, st, commands.NoStream, m, payloads...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 1 || res.Position == 0 {
		t.Fatalf("result %+v, want revision 1 and a position", res)
	}
	recs := read(t, ctx, log, st, commands.NoStream)
	if len(recs) != 2 {
		t.Fatalf("%d events", len(recs))
	}
	for i, r := range recs {
		if !reflect.DeepEqual(r.Payload, payloads[i]) || r.Type != payloads[i].EventType() {
			t.Errorf("event %d: %s %#v, want %#v", i, r.Type, r.Payload, payloads[i])
		}
		if r.Stream != st || r.Revision != uint64(i) || r.ID == uuid.Nil || r.Position == 0 {
			t.Errorf("event %d: place %s@%d id %s position %d", i, r.Stream, r.Revision, r.ID, r.Position)
		}
		want := m
		want.SchemaVersion = events.SchemaVersion
		if r.Metadata != want {
			t.Errorf("event %d metadata %+v, want %+v", i, r.Metadata, want)
		}
	}
	if recs[1].Position != res.Position || recs[0].Position >= recs[1].Position {
		t.Errorf("positions %d, %d; append said %d", recs[0].Position, recs[1].Position, res.Position)
	}
}

func noStreamCreatesOnce(t *testing.T, ctx context.Context, log commands.EventLog) {
	st := stream()
	mustAppend(t, ctx, log, st, commands.NoStream, events.UserRenamedV1{NewUsername: "a"})
	_, err := log.Append(ctx, st, commands.NoStream, meta("u"), events.UserRenamedV1{NewUsername: "b"})
	if !errors.Is(err, commands.ErrWrongExpectedVersion) {
		t.Fatalf("second no_stream append: %v", err)
	}
	if recs := read(t, ctx, log, st, commands.NoStream); len(recs) != 1 {
		t.Fatalf("%d events", len(recs))
	}
}

func expectedRevision(t *testing.T, ctx context.Context, log commands.EventLog) {
	st := stream()
	mustAppend(t, ctx, log, st, commands.NoStream, events.UserRenamedV1{NewUsername: "a"})
	res := mustAppend(t, ctx, log, st, 0, events.UserRenamedV1{NewUsername: "b"}, events.UserRenamedV1{NewUsername: "c"})
	if res.Revision != 2 {
		t.Fatalf("revision %d", res.Revision)
	}
	for _, stale := range []commands.Version{commands.NoStream, 0, 1, 3} {
		if _, err := log.Append(ctx, st, stale, meta("u"), events.UserRenamedV1{NewUsername: "x"}); !errors.Is(err, commands.ErrWrongExpectedVersion) {
			t.Errorf("append at stale %d: %v", stale, err)
		}
	}
	if recs := read(t, ctx, log, st, commands.NoStream); len(recs) != 3 {
		t.Fatalf("refused appends wrote: %d events", len(recs))
	}
	if res := mustAppend(t, ctx, log, st, commands.AnyVersion, events.UserRenamedV1{NewUsername: "d"}); res.Revision != 3 {
		t.Fatalf("any: revision %d", res.Revision)
	}
}

func readAfter(t *testing.T, ctx context.Context, log commands.EventLog) {
	st := stream()
	for i, name := range []string{"a", "b", "c", "d"} {
		mustAppend(t, ctx, log, st, commands.Version(i)-1, events.UserRenamedV1{NewUsername: name})
	}
	recs := read(t, ctx, log, st, 1)
	if len(recs) != 2 || recs[0].Revision != 2 || recs[1].Payload.(events.UserRenamedV1).NewUsername != "d" {
		t.Fatalf("after 1: %+v", recs)
	}
	if recs := read(t, ctx, log, st, 3); len(recs) != 0 {
		t.Fatalf("after the last: %d events", len(recs))
	}
}

func positionsGrow(t *testing.T, ctx context.Context, log commands.EventLog) {
	var last uint64
	for range 5 {
		res := mustAppend(t, ctx, log, stream(), commands.NoStream, events.UserRenamedV1{NewUsername: "a"})
		if res.Position <= last {
			t.Fatalf("position %d after %d", res.Position, last)
		}
		last = res.Position
	}
}

func oneRacerWins(t *testing.T, ctx context.Context, log commands.EventLog) {
	st := stream()
	mustAppend(t, ctx, log, st, commands.NoStream, events.UserRenamedV1{NewUsername: "a"})
	const racers = 16
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = log.Append(ctx, st, 0, meta("u"), events.UserRenamedV1{NewUsername: "b"})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, commands.ErrWrongExpectedVersion):
			t.Errorf("racer: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners", wins)
	}
	if recs := read(t, ctx, log, st, commands.NoStream); len(recs) != 2 {
		t.Fatalf("%d events", len(recs))
	}
}

func cancelled(t *testing.T, ctx context.Context, log commands.EventLog) {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := log.Append(ctx, stream(), commands.NoStream, meta("u"), events.UserRenamedV1{}); err == nil {
		t.Error("append with a cancelled context succeeded")
	}
	if _, err := log.ReadStream(ctx, stream(), commands.NoStream); err == nil {
		t.Error("read with a cancelled context succeeded")
	}
}

func truncateBefore(t *testing.T, ctx context.Context, log commands.EventLog) {
	st := stream()
	for i := range 4 {
		mustAppend(t, ctx, log, st, commands.Version(i)-1, events.UserRenamedV1{NewUsername: string(rune('a' + i))})
	}
	if err := log.TruncateBefore(ctx, st, 2); err != nil {
		t.Fatal(err)
	}
	revisions := func(after commands.Version) []uint64 {
		var out []uint64
		for _, r := range read(t, ctx, log, st, after) {
			out = append(out, r.Revision)
		}
		return out
	}
	if got := revisions(commands.NoStream); !reflect.DeepEqual(got, []uint64{2, 3}) {
		t.Fatalf("read all: revisions %v, want [2 3]", got)
	}
	if got := revisions(0); !reflect.DeepEqual(got, []uint64{2, 3}) {
		t.Fatalf("read after 0: revisions %v, want [2 3]", got)
	}
	if got := revisions(2); !reflect.DeepEqual(got, []uint64{3}) {
		t.Fatalf("read after 2: revisions %v, want [3]", got)
	}
	// Appends go on from the end, with the expected revision as before.
	if res := mustAppend(t, ctx, log, st, 3, events.UserRenamedV1{NewUsername: "e"}); res.Revision != 4 {
		t.Fatalf("appended at %d", res.Revision)
	}
	if got := revisions(commands.NoStream); !reflect.DeepEqual(got, []uint64{2, 3, 4}) {
		t.Fatalf("revisions %v, want [2 3 4]", got)
	}
}
