package eventstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

func ids(events []*esdb.ResolvedEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.Event.EventID
	}
	return out
}

// pick returns the events of all at the given indexes.
func pick(all []*esdb.ResolvedEvent, idx []uint64) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(idx))
	for _, i := range idx {
		out = append(out, all[i].Event.EventID)
	}
	return out
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadStream(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	start := time.Now()
	a, b := streamName(t), streamName(t)
	// Interleave two streams so that stream revisions and $all positions differ.
	mustAppend(t, ctx, c, a, esdb.NoStream{}, numbered("a", 3)...)
	mustAppend(t, ctx, c, b, esdb.NoStream{}, numbered("b", 2)...)
	mustAppend(t, ctx, c, a, esdb.Revision(2), numbered("a", 4)...)
	mustAppend(t, ctx, c, b, esdb.Revision(1), numbered("b", 1)...)
	mustAppend(t, ctx, c, a, esdb.Revision(6), numbered("a", 3)...)
	end := time.Now()

	cases := []struct {
		name  string
		opts  esdb.ReadStreamOptions
		count uint64
		want  []uint64
	}{
		{"forwards from start", esdb.ReadStreamOptions{From: esdb.Start{}}, 100, span(0, 9)},
		{"forwards from start with count", esdb.ReadStreamOptions{From: esdb.Start{}}, 4, span(0, 3)},
		{"forwards default options", esdb.ReadStreamOptions{}, 100, span(0, 9)},
		{"forwards from revision is inclusive", esdb.ReadStreamOptions{From: esdb.Revision(4)}, 3, span(4, 6)},
		{"forwards from the last revision", esdb.ReadStreamOptions{From: esdb.Revision(9)}, 10, []uint64{9}},
		{"forwards past the end", esdb.ReadStreamOptions{From: esdb.Revision(10)}, 10, nil},
		{"forwards far past the end", esdb.ReadStreamOptions{From: esdb.Revision(1 << 40)}, 10, nil},
		{"forwards from end", esdb.ReadStreamOptions{From: esdb.End{}}, 10, nil},
		{"backwards from end", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, span(9, 0)},
		{"backwards from end with count", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 3, span(9, 7)},
		{"backwards from revision is inclusive", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(4)}, 10, span(4, 0)},
		{"backwards from revision with count", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(6)}, 2, span(6, 5)},
		{"backwards from revision 0", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(0)}, 10, []uint64{0}},
		{"backwards from past the end", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(100)}, 3, span(9, 7)},
		{"backwards from start", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Start{}}, 10, []uint64{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustReadStream(t, ctx, c, a, tc.opts, tc.count)
			if !equalU64(revisions(got), tc.want) {
				t.Fatalf("revisions %v, want %v", revisions(got), tc.want)
			}
			for _, e := range got {
				checkEvent(t, e, start, end)
				if e.Event.StreamID != a || e.Event.EventType != "a" {
					t.Errorf("event from %s of type %s in a read of %s", e.Event.StreamID, e.Event.EventType, a)
				}
			}
		})
	}

	// Stream reads carry the same $all positions as $all reads.
	all := allEvents(t, ctx, c)
	byID := map[uuid.UUID]esdb.Position{}
	for _, e := range all {
		byID[e.Event.EventID] = e.Event.Position
	}
	for _, e := range mustReadStream(t, ctx, c, b, esdb.ReadStreamOptions{}, 10) {
		if byID[e.Event.EventID] != e.Event.Position {
			t.Errorf("%s@%d: stream read position %+v, $all %+v", b, e.Event.EventNumber, e.Event.Position, byID[e.Event.EventID])
		}
	}
}

func TestReadAll(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	start := time.Now()
	for i := 0; i < 4; i++ {
		mustAppend(t, ctx, c, fmt.Sprintf("%s-%d", streamName(t), i%2), esdb.Any{}, numbered("e", 3)...)
	}
	end := time.Now()
	all := allEvents(t, ctx, c)
	if len(all) != 12 {
		t.Fatalf("$all has %d events, want 12", len(all))
	}
	for i, e := range all {
		checkEvent(t, e, start, end)
		if i > 0 && e.Event.Position.Commit <= all[i-1].Event.Position.Commit {
			t.Fatalf("$all positions not increasing at %d", i)
		}
	}
	pos := func(i int) esdb.Position { return all[i].Event.Position }
	last := pos(11)
	cases := []struct {
		name  string
		opts  esdb.ReadAllOptions
		count uint64
		want  []uint64 // indexes into all
	}{
		{"forwards from start", esdb.ReadAllOptions{From: esdb.Start{}}, 100, span(0, 11)},
		{"forwards from start with count", esdb.ReadAllOptions{From: esdb.Start{}}, 5, span(0, 4)},
		{"forwards from zero position", esdb.ReadAllOptions{From: esdb.Position{}}, 100, span(0, 11)},
		{"forwards from a position includes it", esdb.ReadAllOptions{From: pos(4)}, 3, span(4, 6)},
		{"forwards from the last position", esdb.ReadAllOptions{From: last}, 10, []uint64{11}},
		{"forwards past the last position", esdb.ReadAllOptions{From: esdb.Position{Commit: last.Commit + 1, Prepare: last.Prepare + 1}}, 10, nil},
		{"forwards from end", esdb.ReadAllOptions{From: esdb.End{}}, 10, nil},
		{"backwards from end", esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, span(11, 0)},
		{"backwards from end with count", esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 2, span(11, 10)},
		{"backwards from a position excludes it", esdb.ReadAllOptions{Direction: esdb.Backwards, From: pos(4)}, 10, span(3, 0)},
		{"backwards from a position with count", esdb.ReadAllOptions{Direction: esdb.Backwards, From: pos(8)}, 3, span(7, 5)},
		{"backwards from the first position", esdb.ReadAllOptions{Direction: esdb.Backwards, From: pos(0)}, 10, nil},
		{"backwards from start", esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.Start{}}, 10, nil},
		{"backwards from past the end", esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.Position{Commit: last.Commit + 100, Prepare: last.Prepare + 100}}, 2, span(11, 10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, ctx, c, tc.opts, tc.count)
			if want := pick(all, tc.want); !equalIDs(ids(got), want) {
				t.Fatalf("read %d events %v, want %d %v", len(got), commits(got), len(want), tc.want)
			}
			for i, e := range got {
				if e.Event.Position != all[tc.want[i]].Event.Position {
					t.Errorf("event %d at %+v, $all says %+v", i, e.Event.Position, all[tc.want[i]].Event.Position)
				}
			}
		})
	}
}

func TestReadMissingAndDeletedStreams(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	cases := []struct {
		setup streamSetup
		want  esdb.ErrorCode
	}{
		{setupMissing, esdb.ErrorCodeResourceNotFound},
		{setupSoftDeleted, esdb.ErrorCodeResourceNotFound},
		{setupMetadataOnly, esdb.ErrorCodeResourceNotFound},
		{setupTombstoned, esdb.ErrorCodeStreamDeleted},
	}
	reads := []struct {
		name  string
		opts  esdb.ReadStreamOptions
		count uint64
	}{
		{"forwards from start", esdb.ReadStreamOptions{From: esdb.Start{}}, 10},
		{"forwards from end", esdb.ReadStreamOptions{From: esdb.End{}}, 10},
		{"forwards from revision", esdb.ReadStreamOptions{From: esdb.Revision(1)}, 10},
		{"backwards from end", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10},
		{"backwards from revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(1)}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.setup.name, func(t *testing.T) {
			t.Parallel()
			stream := streamName(t)
			tc.setup.run(t, ctx, c, stream)
			for _, r := range reads {
				t.Run(r.name, func(t *testing.T) {
					got, err := readStream(t, ctx, c, stream, r.opts, r.count)
					if len(got) != 0 {
						t.Errorf("read returned %d events", len(got))
					}
					wantCode(t, err, tc.want)
				})
			}
		})
	}
}

// The server reads storage in chunks of 512; reads across chunk borders must
// return every event once, in order.
func TestReadLargerThanChunk(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	big, other := streamName(t), streamName(t)
	const n = 1300
	for i := 0; i < n; i += 100 {
		appendMany(t, ctx, c, big, numbered("big", 100))
		mustAppend(t, ctx, c, other, esdb.Any{}, jsonEvent("other", `{}`))
	}
	all := allEvents(t, ctx, c)
	if len(all) != n+n/100 {
		t.Fatalf("$all has %d events, want %d", len(all), n+n/100)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Event.Position.Commit <= all[i-1].Event.Position.Commit {
			t.Fatalf("$all positions not increasing at %d", i)
		}
	}
	streamCases := []struct {
		name  string
		opts  esdb.ReadStreamOptions
		count uint64
		want  []uint64
	}{
		{"forwards everything", esdb.ReadStreamOptions{}, 5000, span(0, n-1)},
		{"forwards one past a chunk", esdb.ReadStreamOptions{}, 513, span(0, 512)},
		{"forwards two chunks exactly", esdb.ReadStreamOptions{}, 1024, span(0, 1023)},
		{"forwards from a revision", esdb.ReadStreamOptions{From: esdb.Revision(100)}, 1000, span(100, 1099)},
		{"backwards everything", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 5000, span(n-1, 0)},
		{"backwards from a revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(1200)}, 700, span(1200, 501)},
	}
	for _, tc := range streamCases {
		t.Run("stream "+tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustReadStream(t, ctx, c, big, tc.opts, tc.count)
			if !equalU64(revisions(got), tc.want) {
				t.Fatalf("read %d events, want %d (%d..%d)", len(got), len(tc.want), tc.want[0], tc.want[len(tc.want)-1])
			}
		})
	}
	total := uint64(len(all))
	allCases := []struct {
		name  string
		opts  esdb.ReadAllOptions
		count uint64
		want  []uint64
	}{
		{"forwards everything", esdb.ReadAllOptions{From: esdb.Start{}}, 1 << 20, span(0, total-1)},
		{"forwards across chunks", esdb.ReadAllOptions{From: esdb.Start{}}, 1025, span(0, 1024)},
		{"forwards from a position", esdb.ReadAllOptions{From: all[600].Event.Position}, 600, span(600, 1199)},
		{"backwards everything", esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1 << 20, span(total-1, 0)},
		{"backwards from a position", esdb.ReadAllOptions{Direction: esdb.Backwards, From: all[1000].Event.Position}, 700, span(999, 300)},
	}
	for _, tc := range allCases {
		t.Run("$all "+tc.name, func(t *testing.T) {
			t.Parallel()
			got := readAll(t, ctx, c, tc.opts, tc.count)
			if !equalIDs(ids(got), pick(all, tc.want)) {
				t.Fatalf("read %d events, want %d (%d..%d)", len(got), len(tc.want), tc.want[0], tc.want[len(tc.want)-1])
			}
		})
	}
}
