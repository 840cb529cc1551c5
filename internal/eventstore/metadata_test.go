package eventstore_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/internal/eventstore"
)

func TestStreamMetadataRoundTrip(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	build := func(f func(m *esdb.StreamMetadata)) esdb.StreamMetadata {
		m := esdb.StreamMetadata{}
		f(&m)
		return m
	}
	acl := esdb.Acl{}
	acl.AddReadRoles("$all")
	acl.AddWriteRoles("ops")
	acl.AddDeleteRoles("$admins")
	acl.AddMetaReadRoles("ops")
	acl.AddMetaWriteRoles("$admins")
	// The client cannot parse role lists back (it does not expect the
	// []interface{} encoding/json gives it), so that case checks only the
	// stored JSON.
	multi := esdb.Acl{}
	multi.AddReadRoles("ops", "billing")
	multi.AddWriteRoles("ops", "billing", "$admins")
	cases := []struct {
		name    string
		meta    esdb.StreamMetadata
		rawOnly bool
	}{
		{"max count", build(func(m *esdb.StreamMetadata) { m.SetMaxCount(5) }), false},
		{"max age", build(func(m *esdb.StreamMetadata) { m.SetMaxAge(90 * time.Second) }), false},
		{"truncate before", build(func(m *esdb.StreamMetadata) { m.SetTruncateBefore(3) }), false},
		{"cache control", build(func(m *esdb.StreamMetadata) { m.SetCacheControl(15 * time.Second) }), false},
		{"acl roles", build(func(m *esdb.StreamMetadata) { m.SetAcl(acl) }), false},
		{"acl role lists", build(func(m *esdb.StreamMetadata) { m.SetAcl(multi) }), true},
		{"acl by name", build(func(m *esdb.StreamMetadata) { m.SetAcl(esdb.UserStreamAcl) }), false},
		{"custom properties", build(func(m *esdb.StreamMetadata) {
			m.AddCustomProperty("owner", "billing")
			m.AddCustomProperty("version", float64(3))
		}), false},
		{"everything", build(func(m *esdb.StreamMetadata) {
			m.SetMaxCount(1000)
			m.SetMaxAge(24 * time.Hour)
			m.SetTruncateBefore(1)
			m.SetCacheControl(time.Minute)
			m.SetAcl(acl)
			m.AddCustomProperty("owner", "billing")
		}), false},
		{"empty", esdb.StreamMetadata{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream := streamName(t)
			res, err := c.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, tc.meta)
			if err != nil {
				t.Fatalf("set: %v", err)
			}
			if res.NextExpectedVersion != 0 || res.CommitPosition == 0 {
				t.Errorf("set result %+v", res)
			}
			if !tc.rawOnly {
				got, err := c.GetStreamMetadata(ctx, stream, esdb.ReadStreamOptions{})
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				if !reflect.DeepEqual(*got, tc.meta) {
					t.Errorf("got %+v, want %+v", *got, tc.meta)
				}
			}
			// Stored exactly as written.
			raw := mustReadStream(t, ctx, c, "$$"+stream, esdb.ReadStreamOptions{}, 10)
			want, _ := tc.meta.ToJson()
			if len(raw) != 1 || !bytes.Equal(raw[0].Event.Data, want) || raw[0].Event.EventType != "$metadata" || raw[0].Event.ContentType != "application/json" {
				t.Fatalf("$$%s holds %d events, first %+v; want %s", stream, len(raw), raw, want)
			}
		})
	}
}

func TestGetStreamMetadataWithoutMetadata(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	// As with EventStoreDB, the client's read of a missing $$stream
	// surfaces as not-found.
	for _, s := range []streamSetup{setupMissing, setupExisting} {
		stream := streamName(t)
		s.run(t, ctx, c, stream)
		got, err := c.GetStreamMetadata(ctx, stream, esdb.ReadStreamOptions{})
		if got != nil {
			t.Errorf("%s stream: metadata %+v", s.name, got)
		}
		wantCode(t, err, esdb.ErrorCodeResourceNotFound)
	}
}

func TestStreamMetadataLatestWins(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	var metas []esdb.StreamMetadata
	for i := 1; i <= 3; i++ {
		m := esdb.StreamMetadata{}
		m.SetMaxCount(uint64(i))
		metas = append(metas, m)
		res, err := c.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, m)
		if err != nil {
			t.Fatal(err)
		}
		if res.NextExpectedVersion != uint64(i-1) {
			t.Errorf("metadata write %d at revision %d", i, res.NextExpectedVersion)
		}
	}
	got, err := c.GetStreamMetadata(ctx, stream, esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, metas[2]) {
		t.Errorf("got %+v, want the last written %+v", *got, metas[2])
	}
	// Metadata streams keep only their last event.
	for _, dir := range []esdb.Direction{esdb.Forwards, esdb.Backwards} {
		from := esdb.StreamPosition(esdb.Start{})
		if dir == esdb.Backwards {
			from = esdb.End{}
		}
		events := mustReadStream(t, ctx, c, "$$"+stream, esdb.ReadStreamOptions{Direction: dir, From: from}, 10)
		if !equalU64(revisions(events), []uint64{2}) {
			t.Errorf("direction %d: $$stream revisions %v, want [2]", dir, revisions(events))
		}
	}
	// Metadata writes honour expected revisions like any append.
	_, err = c.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, metas[0])
	wantCode(t, err, esdb.ErrorCodeWrongExpectedVersion)
	if _, err := c.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(2)}, metas[0]); err != nil {
		t.Errorf("metadata write at the right revision: %v", err)
	}
	// Metadata events are in $all.
	all := allEvents(t, ctx, c)
	if len(all) != 4 {
		t.Fatalf("$all has %d events, want 4 metadata events", len(all))
	}
	for _, e := range all {
		if e.Event.StreamID != "$$"+stream || e.Event.EventType != "$metadata" {
			t.Errorf("$all event %s %s", e.Event.StreamID, e.Event.EventType)
		}
	}
}

func setMeta(t *testing.T, c *esdb.Client, stream string, f func(m *esdb.StreamMetadata)) {
	t.Helper()
	m := esdb.StreamMetadata{}
	f(&m)
	if _, err := c.SetStreamMetadata(testContext(t), stream, esdb.AppendToStreamOptions{}, m); err != nil {
		t.Fatalf("set metadata: %v", err)
	}
}

type visibilityRead struct {
	name string
	opts esdb.ReadStreamOptions
	want []uint64
}

func checkVisible(t *testing.T, c *esdb.Client, stream string, reads []visibilityRead) {
	t.Helper()
	ctx := testContext(t)
	for _, r := range reads {
		events, err := readStream(t, ctx, c, stream, r.opts, 100)
		if err != nil {
			t.Errorf("%s: %v", r.name, err)
			continue
		}
		if !equalU64(revisions(events), r.want) {
			t.Errorf("%s: revisions %v, want %v", r.name, revisions(events), r.want)
		}
	}
}

func subscriptionCatchUp(t *testing.T, c *esdb.Client, stream string) []uint64 {
	t.Helper()
	sub := subscribeStream(t, testContext(t), c, stream, esdb.Start{})
	events, _ := sub.untilCaughtUp(t)
	sub.sub.Close()
	return revisions(events)
}

func TestMaxCount(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("e", 10)...)
	setMeta(t, c, stream, func(m *esdb.StreamMetadata) { m.SetMaxCount(3) })
	checkVisible(t, c, stream, []visibilityRead{
		{"forwards", esdb.ReadStreamOptions{}, span(7, 9)},
		{"forwards from a hidden revision", esdb.ReadStreamOptions{From: esdb.Revision(2)}, span(7, 9)},
		{"forwards from a visible revision", esdb.ReadStreamOptions{From: esdb.Revision(8)}, span(8, 9)},
		{"backwards", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, span(9, 7)},
		{"backwards from a hidden revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(5)}, nil},
	})
	if got := subscriptionCatchUp(t, c, stream); !equalU64(got, span(7, 9)) {
		t.Errorf("subscription catch-up %v, want 7..9", got)
	}
	mustAppend(t, ctx, c, stream, esdb.Revision(9), jsonEvent("e", `{}`))
	checkVisible(t, c, stream, []visibilityRead{{"after an append", esdb.ReadStreamOptions{}, span(8, 10)}})
	// Without a scavenge, lifting the limit shows everything again.
	setMeta(t, c, stream, func(m *esdb.StreamMetadata) {})
	checkVisible(t, c, stream, []visibilityRead{{"limit lifted", esdb.ReadStreamOptions{}, span(0, 10)}})
}

func TestTruncateBefore(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("e", 10)...)
	setMeta(t, c, stream, func(m *esdb.StreamMetadata) { m.SetTruncateBefore(5) })
	checkVisible(t, c, stream, []visibilityRead{
		{"forwards", esdb.ReadStreamOptions{}, span(5, 9)},
		{"forwards from a hidden revision", esdb.ReadStreamOptions{From: esdb.Revision(2)}, span(5, 9)},
		{"backwards", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, span(9, 5)},
		{"backwards from a hidden revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(3)}, nil},
	})
	if got := subscriptionCatchUp(t, c, stream); !equalU64(got, span(5, 9)) {
		t.Errorf("subscription catch-up %v, want 5..9", got)
	}
	// Truncating past the end hides everything but the stream still exists.
	setMeta(t, c, stream, func(m *esdb.StreamMetadata) { m.SetTruncateBefore(20) })
	checkVisible(t, c, stream, []visibilityRead{{"truncated past the end", esdb.ReadStreamOptions{}, nil}})
	res := mustAppend(t, ctx, c, stream, esdb.Revision(9), jsonEvent("e", `{}`))
	if res.NextExpectedVersion != 10 {
		t.Errorf("append after truncation at %d, want 10", res.NextExpectedVersion)
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	clock := &testClock{}
	srv := startServerWith(t, eventstore.Config{Now: clock.Now})
	c, ctx := newClient(t, srv), testContext(t)
	stream := streamName(t)
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("old", 3)...) // t0
	setMeta(t, c, stream, func(m *esdb.StreamMetadata) { m.SetMaxAge(time.Minute) })
	checkVisible(t, c, stream, []visibilityRead{{"fresh", esdb.ReadStreamOptions{}, span(0, 2)}})

	clock.Advance(30 * time.Second)
	mustAppend(t, ctx, c, stream, esdb.Revision(2), numbered("newer", 2)...) // t0+30s
	clock.Advance(40 * time.Second)                                          // t0+70s: the first three expired
	checkVisible(t, c, stream, []visibilityRead{
		{"forwards", esdb.ReadStreamOptions{}, span(3, 4)},
		{"forwards from an expired revision", esdb.ReadStreamOptions{From: esdb.Revision(1)}, span(3, 4)},
		{"backwards", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, span(4, 3)},
		{"backwards from an expired revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(2)}, nil},
	})
	if got := subscriptionCatchUp(t, c, stream); !equalU64(got, span(3, 4)) {
		t.Errorf("subscription catch-up %v, want [3 4]", got)
	}
	// All expired: an empty read, not a missing stream.
	clock.Advance(time.Hour)
	checkVisible(t, c, stream, []visibilityRead{
		{"all expired forwards", esdb.ReadStreamOptions{}, nil},
		{"all expired backwards", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, nil},
	})
	// $all is not filtered by stream metadata.
	if n := len(allEvents(t, ctx, c)); n != 6 {
		t.Errorf("$all has %d events, want 6", n)
	}
	mustAppend(t, ctx, c, stream, esdb.Revision(4), jsonEvent("latest", `{}`))
	checkVisible(t, c, stream, []visibilityRead{{"written after expiry", esdb.ReadStreamOptions{}, []uint64{5}}})

	// Combined with $maxCount, the stricter rule wins.
	setMeta(t, c, stream, func(m *esdb.StreamMetadata) { m.SetMaxAge(time.Hour); m.SetMaxCount(2) })
	clock.Advance(time.Minute)
	mustAppend(t, ctx, c, stream, esdb.Revision(5), numbered("later", 2)...)
	checkVisible(t, c, stream, []visibilityRead{{"max count and age", esdb.ReadStreamOptions{}, span(6, 7)}})
}
