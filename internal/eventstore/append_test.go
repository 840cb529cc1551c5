package eventstore_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	"github.com/accountd/accountd/internal/eventstore"
)

// streamSetup puts a stream into a known state before a case runs.
type streamSetup struct {
	name string
	run  func(t *testing.T, ctx context.Context, c *esdb.Client, stream string)
}

var (
	setupMissing = streamSetup{"missing", func(*testing.T, context.Context, *esdb.Client, string) {}}
	// Three events: revisions 0, 1, 2.
	setupExisting = streamSetup{"existing", func(t *testing.T, ctx context.Context, c *esdb.Client, stream string) {
		mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("seed", 3)...)
	}}
	setupSoftDeleted = streamSetup{"soft-deleted", func(t *testing.T, ctx context.Context, c *esdb.Client, stream string) {
		mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("seed", 3)...)
		if _, err := c.DeleteStream(ctx, stream, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(2)}); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}}
	setupTombstoned = streamSetup{"tombstoned", func(t *testing.T, ctx context.Context, c *esdb.Client, stream string) {
		mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("seed", 3)...)
		if _, err := c.TombstoneStream(ctx, stream, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(2)}); err != nil {
			t.Fatalf("tombstone: %v", err)
		}
	}}
	// Metadata written, no events: EventStoreDB lets StreamExists through.
	setupMetadataOnly = streamSetup{"metadata-only", func(t *testing.T, ctx context.Context, c *esdb.Client, stream string) {
		meta := esdb.StreamMetadata{}
		meta.SetMaxCount(100)
		if _, err := c.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{}, meta); err != nil {
			t.Fatalf("set metadata: %v", err)
		}
	}}
)

// lastRevision is the revision a backwards read sees last, -1 when the read
// finds no stream.
func lastRevision(t *testing.T, ctx context.Context, c *esdb.Client, stream string) int64 {
	t.Helper()
	events, err := readStream(t, ctx, c, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if code, ok := errorCode(err); ok && (code == esdb.ErrorCodeResourceNotFound || code == esdb.ErrorCodeStreamDeleted) {
		return -1
	}
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	if len(events) == 0 {
		return -1
	}
	return int64(events[0].Event.EventNumber)
}

func TestAppendExpectedRevision(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	cases := []struct {
		setup    streamSetup
		expected esdb.ExpectedRevision
		wantNext uint64         // on success
		wantCode esdb.ErrorCode // 0: success
		wantMsg  string         // part of the wrong-expected-version message
	}{
		{setupMissing, esdb.Any{}, 0, 0, ""},
		{setupMissing, esdb.NoStream{}, 0, 0, ""},
		{setupMissing, esdb.StreamExists{}, 0, esdb.ErrorCodeWrongExpectedVersion, "expecting 'stream_exists' but got 'no_stream'"},
		{setupMissing, esdb.Revision(0), 0, esdb.ErrorCodeWrongExpectedVersion, "expecting '0' but got 'no_stream'"},
		{setupMissing, esdb.Revision(5), 0, esdb.ErrorCodeWrongExpectedVersion, "expecting '5' but got 'no_stream'"},

		{setupExisting, esdb.Any{}, 3, 0, ""},
		{setupExisting, esdb.NoStream{}, 0, esdb.ErrorCodeWrongExpectedVersion, "expecting 'no_stream' but got '2'"},
		{setupExisting, esdb.StreamExists{}, 3, 0, ""},
		{setupExisting, esdb.Revision(2), 3, 0, ""},
		{setupExisting, esdb.Revision(1), 0, esdb.ErrorCodeWrongExpectedVersion, "expecting '1' but got '2'"},
		{setupExisting, esdb.Revision(3), 0, esdb.ErrorCodeWrongExpectedVersion, "expecting '3' but got '2'"},

		// A soft-deleted stream is recreated; its revisions continue.
		{setupSoftDeleted, esdb.Any{}, 3, 0, ""},
		{setupSoftDeleted, esdb.NoStream{}, 3, 0, ""},
		{setupSoftDeleted, esdb.Revision(2), 3, 0, ""},
		{setupSoftDeleted, esdb.Revision(0), 0, esdb.ErrorCodeWrongExpectedVersion, "expecting '0' but got '2'"},
		// EventStoreDB answers StreamExists on a soft-deleted stream with
		// stream-deleted (IndexWriter.CheckCommit: CommitDecision.Deleted).
		{setupSoftDeleted, esdb.StreamExists{}, 0, esdb.ErrorCodeStreamDeleted, ""},

		{setupTombstoned, esdb.Any{}, 0, esdb.ErrorCodeStreamDeleted, ""},
		{setupTombstoned, esdb.NoStream{}, 0, esdb.ErrorCodeStreamDeleted, ""},
		{setupTombstoned, esdb.StreamExists{}, 0, esdb.ErrorCodeStreamDeleted, ""},
		{setupTombstoned, esdb.Revision(2), 0, esdb.ErrorCodeStreamDeleted, ""},

		{setupMetadataOnly, esdb.StreamExists{}, 0, 0, ""},
		{setupMetadataOnly, esdb.NoStream{}, 0, 0, ""},
		{setupMetadataOnly, esdb.Revision(0), 0, esdb.ErrorCodeWrongExpectedVersion, "expecting '0' but got 'no_stream'"},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/%T%v", tc.setup.name, tc.expected, tc.expected)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stream := streamName(t)
			tc.setup.run(t, ctx, c, stream)
			before := lastRevision(t, ctx, c, stream)
			ev := jsonEvent("probe", `{}`)
			res, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: tc.expected}, ev)
			if tc.wantCode != 0 {
				wantCode(t, err, tc.wantCode)
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("error %q does not say %q", err, tc.wantMsg)
				}
				if after := lastRevision(t, ctx, c, stream); after != before {
					t.Errorf("failed append changed the stream: last revision %d, was %d", after, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if res.NextExpectedVersion != tc.wantNext {
				t.Errorf("NextExpectedVersion %d, want %d", res.NextExpectedVersion, tc.wantNext)
			}
			events := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10)
			if len(events) == 0 || events[0].Event.EventID != ev.EventID || events[0].Event.EventNumber != tc.wantNext {
				t.Fatalf("stream after append: %v, want the probe event at revision %d first", revisions(events), tc.wantNext)
			}
		})
	}
}

func TestAppendIdempotentRetry(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	cases := []struct {
		name     string
		prior    int // events written before the batch
		expected esdb.ExpectedRevision
		moveOn   bool // other events follow the batch before the retry
	}{
		{"exact", 2, esdb.Revision(1), false},
		{"exact after later writes", 2, esdb.Revision(1), true},
		{"no_stream", 0, esdb.NoStream{}, false},
		{"no_stream after later writes", 0, esdb.NoStream{}, true},
		{"any", 2, esdb.Any{}, false},
		{"any after later writes", 2, esdb.Any{}, true},
		{"stream_exists", 2, esdb.StreamExists{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream := streamName(t)
			if tc.prior > 0 {
				mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("prior", tc.prior)...)
			}
			batch := numbered("batch", 3)
			first := mustAppend(t, ctx, c, stream, tc.expected, batch...)
			later := 0
			if tc.moveOn {
				later = 2
				mustAppend(t, ctx, c, stream, esdb.Any{}, numbered("later", later)...)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				retry, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: tc.expected}, batch...)
				if err != nil {
					t.Fatalf("retry %d: %v", attempt, err)
				}
				if *retry != *first {
					t.Fatalf("retry %d: result %+v, want the original %+v", attempt, *retry, *first)
				}
			}
			events := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 100)
			want := tc.prior + len(batch) + later
			if len(events) != want {
				t.Fatalf("stream has %d events, want %d: retries wrote duplicates", len(events), want)
			}
			seen := map[uuid.UUID]bool{}
			for _, e := range events {
				if seen[e.Event.EventID] {
					t.Fatalf("event %s appears twice", e.Event.EventID)
				}
				seen[e.Event.EventID] = true
			}
			if got := events[tc.prior+2].Event; got.EventID != batch[2].EventID || got.Position.Commit > first.CommitPosition {
				t.Errorf("last batch event %s at %+v, want %s at or before %d", got.EventID, got.Position, batch[2].EventID, first.CommitPosition)
			}
		})
	}
}

func TestAppendIdempotencyPartialMatch(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	// Events are named by letter; each case gets fresh ids.
	cases := []struct {
		name          string
		prior         string // written with Any before the batch
		batch         string
		batchExpected esdb.ExpectedRevision
		retry         string
		retryExpected esdb.ExpectedRevision
		wantOK        bool
	}{
		{"exact: retry with an extra event", "", "ab", esdb.NoStream{}, "abx", esdb.NoStream{}, false},
		{"exact: retry with a different second event", "y", "ab", esdb.Revision(0), "ax", esdb.Revision(0), false},
		{"exact: retry with an extra event after prior", "y", "ab", esdb.Revision(0), "abx", esdb.Revision(0), false},
		{"exact: a prefix of the batch is idempotent", "y", "ab", esdb.Revision(0), "a", esdb.Revision(0), true},
		{"exact: ids at another revision", "y", "ab", esdb.Revision(0), "ab", esdb.Revision(5), false},
		{"no_stream: retry with a different second event", "", "ab", esdb.NoStream{}, "ax", esdb.NoStream{}, false},
		{"no_stream: ids not at the start of the stream", "y", "ab", esdb.Any{}, "ab", esdb.NoStream{}, false},
		{"any: retry with an extra event", "", "ab", esdb.Any{}, "abx", esdb.Any{}, false},
		{"any: retry with a different second event", "", "ab", esdb.Any{}, "ax", esdb.Any{}, false},
		{"any: the tail of a batch is idempotent", "y", "abx", esdb.Any{}, "bx", esdb.Any{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			byLetter := map[rune]esdb.EventData{}
			events := func(letters string) []esdb.EventData {
				var out []esdb.EventData
				for _, l := range letters {
					if _, ok := byLetter[l]; !ok {
						byLetter[l] = jsonEvent(string(l), `{}`)
					}
					out = append(out, byLetter[l])
				}
				return out
			}
			stream := streamName(t)
			if tc.prior != "" {
				mustAppend(t, ctx, c, stream, esdb.Any{}, events(tc.prior)...)
			}
			mustAppend(t, ctx, c, stream, tc.batchExpected, events(tc.batch)...)
			before := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 100)
			_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: tc.retryExpected}, events(tc.retry)...)
			if tc.wantOK {
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
			} else {
				wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)
			}
			after := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 100)
			if len(after) != len(before) {
				t.Fatalf("stream went from %d to %d events", len(before), len(after))
			}
		})
	}
}

// Event ids are unique per stream, not globally: the same batch written to
// two streams is retried idempotently on each.
func TestAppendSameIDsInTwoStreams(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	batch := numbered("shared", 2)
	s1, s2 := streamName(t), streamName(t)
	mustAppend(t, ctx, c, s1, esdb.Any{}, jsonEvent("first", `{}`))
	cases := []struct {
		stream   string
		expected esdb.ExpectedRevision
	}{{s1, esdb.Revision(0)}, {s2, esdb.NoStream{}}}
	var originals []*esdb.WriteResult
	for _, tc := range cases {
		originals = append(originals, mustAppend(t, ctx, c, tc.stream, tc.expected, batch...))
	}
	for i, tc := range cases {
		retry := mustAppend(t, ctx, c, tc.stream, tc.expected, batch...)
		if *retry != *originals[i] {
			t.Errorf("retry on %s: %+v, want the original %+v", tc.stream, *retry, *originals[i])
		}
	}
	if n := len(mustReadStream(t, ctx, c, s1, esdb.ReadStreamOptions{}, 10)); n != 3 {
		t.Errorf("%s has %d events, want 3", s1, n)
	}
	if n := len(mustReadStream(t, ctx, c, s2, esdb.ReadStreamOptions{}, 10)); n != 2 {
		t.Errorf("%s has %d events, want 2", s2, n)
	}
}

func TestAppendPositionsAndRevisions(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	s1, s2, s3 := streamName(t), streamName(t), streamName(t)
	type step struct {
		stream   string
		n        int
		wantNext uint64
	}
	steps := []step{{s1, 2, 1}, {s2, 1, 0}, {s1, 1, 2}, {s3, 3, 2}, {s2, 2, 2}}
	type written struct {
		stream string
		rev    uint64
		id     uuid.UUID
		lo, hi uint64 // the event's commit position lies in (lo, hi]
	}
	var want []written
	var prev uint64
	for i, s := range steps {
		events := numbered(fmt.Sprintf("step%d", i), s.n)
		res := mustAppend(t, ctx, c, s.stream, esdb.Any{}, events...)
		if res.NextExpectedVersion != s.wantNext {
			t.Errorf("step %d: NextExpectedVersion %d, want %d", i, res.NextExpectedVersion, s.wantNext)
		}
		if res.CommitPosition == 0 || res.CommitPosition != res.PreparePosition || res.CommitPosition <= prev {
			t.Errorf("step %d: position %d/%d after %d: want commit = prepare, increasing", i, res.CommitPosition, res.PreparePosition, prev)
		}
		for j, e := range events {
			want = append(want, written{s.stream, s.wantNext - uint64(s.n-1-j), e.EventID, prev, res.CommitPosition})
		}
		prev = res.CommitPosition
	}
	got := allEvents(t, ctx, c)
	if len(got) != len(want) {
		t.Fatalf("$all has %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		e := got[i].Event
		if e.StreamID != w.stream || e.EventNumber != w.rev || e.EventID != w.id {
			t.Errorf("$all[%d] = %s@%d %s, want %s@%d %s", i, e.StreamID, e.EventNumber, e.EventID, w.stream, w.rev, w.id)
		}
		if e.Position.Commit <= w.lo || e.Position.Commit > w.hi {
			t.Errorf("$all[%d] at %d, want in (%d, %d]", i, e.Position.Commit, w.lo, w.hi)
		}
		if i > 0 && e.Position.Commit <= got[i-1].Event.Position.Commit {
			t.Errorf("$all[%d] at %d does not follow %d", i, e.Position.Commit, got[i-1].Event.Position.Commit)
		}
	}
}

func TestAppendRoundTripsEventFields(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	events := []esdb.EventData{
		{EventID: uuid.New(), EventType: "JsonEvent", ContentType: esdb.ContentTypeJson, Data: []byte(`{"a":1}`), Metadata: []byte(`{"meta":true}`)},
		{EventID: uuid.New(), EventType: "BinaryEvent", ContentType: esdb.ContentTypeBinary, Data: []byte{0, 1, 2, 0xff}, Metadata: []byte{9, 8}},
		{EventID: uuid.New(), EventType: "Empty", ContentType: esdb.ContentTypeBinary},
		{EventID: uuid.New(), EventType: "Ünïcode-type", ContentType: esdb.ContentTypeJson, Data: []byte(`"ü"`)},
	}
	before := time.Now()
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, events...)
	after := time.Now()
	got := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
	if len(got) != len(events) {
		t.Fatalf("read %d events, want %d", len(got), len(events))
	}
	for i, w := range events {
		e := got[i].Event
		checkEvent(t, got[i], before, after)
		wantCT := "application/octet-stream"
		if w.ContentType == esdb.ContentTypeJson {
			wantCT = "application/json"
		}
		if e.EventID != w.EventID || e.EventType != w.EventType || e.ContentType != wantCT || e.StreamID != stream ||
			e.EventNumber != uint64(i) || !bytes.Equal(e.Data, w.Data) || !bytes.Equal(e.UserMetadata, w.Metadata) {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

func TestAppendCreatedFollowsClock(t *testing.T) {
	t.Parallel()
	clock := &testClock{}
	srv := startServerWith(t, eventstore.Config{Now: clock.Now})
	c, ctx := newClient(t, srv), testContext(t)
	stream := streamName(t)
	var windows [][2]time.Time
	for _, jump := range []time.Duration{0, 48 * time.Hour, 10 * time.Minute} {
		clock.Advance(jump)
		before := clock.Now()
		mustAppend(t, ctx, c, stream, esdb.Any{}, jsonEvent("tick", `{}`))
		windows = append(windows, [2]time.Time{before, clock.Now()})
	}
	got := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
	if len(got) != len(windows) {
		t.Fatalf("read %d events, want %d", len(got), len(windows))
	}
	for i, w := range windows {
		checkEvent(t, got[i], w[0], w[1])
	}
	// The same stamps through $all.
	all := allEvents(t, ctx, c)
	for i := range all {
		if !all[i].Event.CreatedDate.Equal(got[i].Event.CreatedDate) {
			t.Errorf("$all[%d] created %v, stream read %v", i, all[i].Event.CreatedDate, got[i].Event.CreatedDate)
		}
	}
}

func TestAppendMaxSize(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	const limit = 1 << 20
	const eventType = "big" // EventStoreDB counts 2 bytes per type character
	overhead := 2 * len(eventType)
	event := func(data, meta int) esdb.EventData {
		return esdb.EventData{EventID: uuid.New(), EventType: eventType, ContentType: esdb.ContentTypeBinary,
			Data: bytes.Repeat([]byte{'d'}, data), Metadata: bytes.Repeat([]byte{'m'}, meta)}
	}
	cases := []struct {
		name   string
		events []esdb.EventData
		wantOK bool
	}{
		{"one event at the limit", []esdb.EventData{event(limit-overhead, 0)}, true},
		{"one event one byte over", []esdb.EventData{event(limit-overhead+1, 0)}, false},
		{"data and metadata at the limit", []esdb.EventData{event(limit/2, limit/2-overhead)}, true},
		{"metadata tips it over", []esdb.EventData{event(limit/2, limit/2-overhead+1)}, false},
		{"four events at the limit", []esdb.EventData{event(limit/4-overhead, 0), event(limit/4-overhead, 0), event(limit/4-overhead, 0), event(limit/4-overhead, 0)}, true},
		{"four events one byte over", []esdb.EventData{event(limit/4-overhead, 0), event(limit/4-overhead, 0), event(limit/4-overhead, 0), event(limit/4-overhead+1, 0)}, false},
		{"one MiB plus", []esdb.EventData{event(limit, 1)}, false},
		{"far over in one event", []esdb.EventData{event(3*limit, 0)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream := streamName(t)
			_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, tc.events...)
			if !tc.wantOK {
				if err == nil {
					t.Fatalf("oversized append succeeded")
				}
				if _, err := readStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10); err == nil {
					t.Fatalf("oversized append wrote events")
				} else {
					wantCode(t, err, esdb.ErrorCodeResourceNotFound)
				}
				return
			}
			if err != nil {
				t.Fatalf("append at the limit: %v", err)
			}
			got := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
			if len(got) != len(tc.events) {
				t.Fatalf("read %d events, want %d", len(got), len(tc.events))
			}
			for i := range got {
				if !bytes.Equal(got[i].Event.Data, tc.events[i].Data) || !bytes.Equal(got[i].Event.UserMetadata, tc.events[i].Metadata) {
					t.Errorf("event %d did not round-trip", i)
				}
			}
		})
	}
	// The refusal is EventStoreDB's: InvalidArgument.
	_, err := c.AppendToStream(ctx, streamName(t), esdb.AppendToStreamOptions{}, event(limit, 0))
	if code := grpcCode(err); code != codes.InvalidArgument {
		t.Errorf("oversized append: %v (code %v), want InvalidArgument", err, code)
	}
}

func TestAppendConcurrent(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	shared := streamName(t)
	const writers, appends = 8, 20
	var wg sync.WaitGroup
	ids := make(chan uuid.UUID, writers*appends*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := streamName(t)
			for i := 0; i < appends; i++ {
				batch := numbered("concurrent", 2)
				if _, err := c.AppendToStream(ctx, shared, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, batch...); err != nil {
					t.Errorf("append: %v", err)
					return
				}
				ids <- batch[0].EventID
				ids <- batch[1].EventID
				if _, err := c.AppendToStream(ctx, own, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, jsonEvent("own", `{}`)); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	if t.Failed() {
		return
	}
	got := mustReadStream(t, ctx, c, shared, esdb.ReadStreamOptions{}, 10_000)
	if !equalU64(revisions(got), span(0, writers*appends*2-1)) {
		t.Fatalf("revisions %v are not 0..%d", revisions(got), writers*appends*2-1)
	}
	seen := map[uuid.UUID]int{}
	for i, e := range got {
		seen[e.Event.EventID]++
		if i > 0 && e.Event.Position.Commit <= got[i-1].Event.Position.Commit {
			t.Fatalf("positions not increasing at revision %d", i)
		}
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s stored %d times", id, seen[id])
		}
	}
	all := allEvents(t, ctx, c)
	if len(all) != writers*appends*3 {
		t.Errorf("$all has %d events, want %d", len(all), writers*appends*3)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Event.Position.Commit <= all[i-1].Event.Position.Commit {
			t.Fatalf("$all positions not increasing at %d", i)
		}
	}

	// Racing writers on one expected revision: exactly one wins.
	race := streamName(t)
	mustAppend(t, ctx, c, race, esdb.NoStream{}, jsonEvent("first", `{}`))
	var wins sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 10; i++ {
		wins.Add(1)
		go func() {
			defer wins.Done()
			_, err := c.AppendToStream(ctx, race, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, jsonEvent("racer", `{}`))
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
				return
			}
			if code, _ := errorCode(err); code != esdb.ErrorCodeWrongExpectedVersion {
				t.Errorf("racer: %v", err)
			}
		}()
	}
	wins.Wait()
	if won != 1 {
		t.Errorf("%d racers won, want 1", won)
	}
	if n := len(mustReadStream(t, ctx, c, race, esdb.ReadStreamOptions{}, 100)); n != 2 {
		t.Errorf("race stream has %d events, want 2", n)
	}
}
