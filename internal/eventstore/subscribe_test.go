package eventstore_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

func subscribeStream(t *testing.T, ctx context.Context, c *esdb.Client, stream string, from esdb.StreamPosition) *subStream {
	t.Helper()
	sub, err := c.SubscribeToStream(ctx, stream, esdb.SubscribeToStreamOptions{From: from})
	if err != nil {
		t.Fatalf("subscribe to %s: %v", stream, err)
	}
	return pump(t, sub)
}

func subscribeAll(t *testing.T, ctx context.Context, c *esdb.Client, opts esdb.SubscribeToAllOptions) *subStream {
	t.Helper()
	sub, err := c.SubscribeToAll(ctx, opts)
	if err != nil {
		t.Fatalf("subscribe to $all: %v", err)
	}
	return pump(t, sub)
}

func TestSubscribeToStream(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	cases := []struct {
		name      string
		existing  int // events before subscribing
		from      esdb.StreamPosition
		wantCatch []uint64
		live      int // events appended after caught-up
		wantLive  []uint64
	}{
		{"from start", 5, esdb.Start{}, span(0, 4), 2, span(5, 6)},
		{"from end", 5, esdb.End{}, nil, 2, span(5, 6)},
		{"default is end", 5, nil, nil, 1, []uint64{5}},
		{"from a revision is exclusive", 5, esdb.Revision(2), span(3, 4), 2, span(5, 6)},
		{"from the last revision", 5, esdb.Revision(4), nil, 1, []uint64{5}},
		{"from a future revision", 5, esdb.Revision(7), nil, 4, []uint64{8}},
		{"missing stream from start", 0, esdb.Start{}, nil, 2, span(0, 1)},
		{"missing stream from end", 0, esdb.End{}, nil, 2, span(0, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream, other := streamName(t), streamName(t)
			if tc.existing > 0 {
				mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("before", tc.existing)...)
			}
			mustAppend(t, ctx, c, other, esdb.Any{}, jsonEvent("other", `{}`))
			sub := subscribeStream(t, ctx, c, stream, tc.from)
			catch, checkpoints := sub.untilCaughtUp(t)
			if !equalU64(revisions(catch), tc.wantCatch) {
				t.Fatalf("catch-up revisions %v, want %v", revisions(catch), tc.wantCatch)
			}
			if len(checkpoints) > 0 {
				t.Errorf("stream subscription sent checkpoints %v", checkpoints)
			}
			// Interleave writes to another stream: they must not show up.
			var live []esdb.EventData
			for i := 0; i < tc.live; i++ {
				ev := jsonEvent("live", fmt.Sprintf(`{"i":%d}`, i))
				live = append(live, ev)
				mustAppend(t, ctx, c, other, esdb.Any{}, jsonEvent("other", `{}`))
				mustAppend(t, ctx, c, stream, esdb.Any{}, ev)
			}
			all := allEvents(t, ctx, c)
			positions := map[[16]byte]esdb.Position{}
			for _, e := range all {
				positions[e.Event.EventID] = e.Event.Position
			}
			for _, want := range tc.wantLive {
				got := sub.nextEvent(t)
				if got.Event.StreamID != stream || got.Event.EventNumber != want {
					t.Fatalf("live event %s@%d, want %s@%d", got.Event.StreamID, got.Event.EventNumber, stream, want)
				}
				if want >= uint64(tc.existing) && got.Event.EventID != live[want-uint64(tc.existing)].EventID {
					t.Errorf("live event %d has id %s", want, got.Event.EventID)
				}
				if got.Event.Position != positions[got.Event.EventID] {
					t.Errorf("live event at %+v, $all says %+v", got.Event.Position, positions[got.Event.EventID])
				}
			}
		})
	}
}

func TestSubscribeToAll(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		from      func(all []*esdb.ResolvedEvent) esdb.AllPosition
		wantCatch func(n uint64) []uint64
	}{
		{"from start", func([]*esdb.ResolvedEvent) esdb.AllPosition { return esdb.Start{} }, func(n uint64) []uint64 { return span(0, n-1) }},
		{"from zero position", func([]*esdb.ResolvedEvent) esdb.AllPosition { return esdb.Position{} }, func(n uint64) []uint64 { return span(0, n-1) }},
		{"from end", func([]*esdb.ResolvedEvent) esdb.AllPosition { return esdb.End{} }, func(uint64) []uint64 { return nil }},
		{"default is end", func([]*esdb.ResolvedEvent) esdb.AllPosition { return nil }, func(uint64) []uint64 { return nil }},
		{"from a position is exclusive", func(all []*esdb.ResolvedEvent) esdb.AllPosition { return all[3].Event.Position }, func(n uint64) []uint64 { return span(4, n-1) }},
		{"from the last position", func(all []*esdb.ResolvedEvent) esdb.AllPosition { return all[len(all)-1].Event.Position }, func(uint64) []uint64 { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ctx := setup(t) // a server each: $all is shared state
			start := time.Now()
			for i := 0; i < 3; i++ {
				mustAppend(t, ctx, c, streamName(t), esdb.NoStream{}, numbered("before", 3)...)
			}
			all := allEvents(t, ctx, c)
			sub := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: tc.from(all)})
			catch, _ := sub.untilCaughtUp(t)
			if want := pick(all, tc.wantCatch(uint64(len(all)))); !equalIDs(ids(catch), want) {
				t.Fatalf("catch-up got %d events %v, want %d", len(catch), commits(catch), len(want))
			}
			for i, e := range catch {
				checkEvent(t, e, start, time.Now())
				if i > 0 && e.Event.Position.Commit <= catch[i-1].Event.Position.Commit {
					t.Errorf("catch-up positions not increasing at %d", i)
				}
			}
			live := []esdb.EventData{jsonEvent("live", `{"i":0}`), jsonEvent("live", `{"i":1}`), jsonEvent("live", `{"i":2}`)}
			mustAppend(t, ctx, c, streamName(t), esdb.Any{}, live[0])
			mustAppend(t, ctx, c, streamName(t), esdb.Any{}, live[1:]...)
			for _, want := range live {
				got := sub.nextEvent(t)
				if got.Event.EventID != want.EventID {
					t.Fatalf("live event %s (%s), want %s", got.Event.EventID, got.Event.EventType, want.EventID)
				}
				checkEvent(t, got, start, time.Now())
			}
		})
	}
}

func TestSubscribeCatchUpLargerThanChunk(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	const n = 1300
	appendMany(t, ctx, c, stream, numbered("bulk", n))
	mustAppend(t, ctx, c, streamName(t), esdb.Any{}, jsonEvent("other", `{}`))

	s := subscribeStream(t, ctx, c, stream, esdb.Start{})
	catch, _ := s.untilCaughtUp(t)
	if !equalU64(revisions(catch), span(0, n-1)) {
		t.Fatalf("stream catch-up delivered %d events, want 0..%d in order", len(catch), n-1)
	}
	a := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	catchAll, _ := a.untilCaughtUp(t)
	if all := allEvents(t, ctx, c); !equalIDs(ids(catchAll), ids(all)) {
		t.Fatalf("$all catch-up delivered %d events, want all %d in order", len(catchAll), len(all))
	}
	live := jsonEvent("live", `{}`)
	mustAppend(t, ctx, c, stream, esdb.Revision(n-1), live)
	if got := s.nextEvent(t); got.Event.EventID != live.EventID || got.Event.EventNumber != n {
		t.Errorf("stream live event %s@%d, want %s@%d", got.Event.EventID, got.Event.EventNumber, live.EventID, n)
	}
	if got := a.nextEvent(t); got.Event.EventID != live.EventID {
		t.Errorf("$all live event %s, want %s", got.Event.EventID, live.EventID)
	}
}

// filterWorld writes a mix of user and system events for filter tests.
func filterWorld(t *testing.T, ctx context.Context, c *esdb.Client) {
	t.Helper()
	mustAppend(t, ctx, c, "orders-1", esdb.NoStream{}, jsonEvent("OrderPlaced", `{}`), jsonEvent("OrderShipped", `{}`))
	mustAppend(t, ctx, c, "users-1", esdb.NoStream{}, jsonEvent("UserCreated", `{}`))
	mustAppend(t, ctx, c, "orders-2", esdb.NoStream{}, jsonEvent("OrderPlaced", `{}`))
	meta := esdb.StreamMetadata{}
	meta.SetMaxCount(50)
	if _, err := c.SetStreamMetadata(ctx, "orders-1", esdb.AppendToStreamOptions{}, meta); err != nil {
		t.Fatalf("set metadata: %v", err)
	}
	mustAppend(t, ctx, c, "users-1", esdb.Revision(0), jsonEvent("UserRenamed", `{}`))
	mustAppend(t, ctx, c, "invoices-1", esdb.NoStream{}, jsonEvent("InvoiceIssued", `{}`))
	if _, err := c.TombstoneStream(ctx, "invoices-1", esdb.TombstoneStreamOptions{}); err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	// A user stream may hold a $-typed event; system-event filters drop it.
	mustAppend(t, ctx, c, "orders-3", esdb.Any{}, jsonEvent("$custom", `{}`), jsonEvent("OrderPlaced", `{}`))
}

func TestSubscribeToAllFilters(t *testing.T) {
	t.Parallel()
	typeIs := func(pred func(string) bool) func(e *esdb.RecordedEvent) bool {
		return func(e *esdb.RecordedEvent) bool { return pred(e.EventType) }
	}
	streamIs := func(pred func(string) bool) func(e *esdb.RecordedEvent) bool {
		return func(e *esdb.RecordedEvent) bool { return pred(e.StreamID) }
	}
	hasPrefix := func(ps ...string) func(string) bool {
		return func(s string) bool {
			for _, p := range ps {
				if strings.HasPrefix(s, p) {
					return true
				}
			}
			return false
		}
	}
	matches := func(expr string) func(string) bool { return regexp.MustCompile(expr).MatchString }
	cases := []struct {
		name   string
		filter *esdb.SubscriptionFilter
		want   func(e *esdb.RecordedEvent) bool
		// A live event the filter passes, written last.
		markerStream, markerType string
	}{
		{"event type prefix", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"Order"}},
			typeIs(hasPrefix("Order")), "any-stream", "OrderMarker"},
		{"event type prefixes", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"OrderShipped", "User"}},
			typeIs(hasPrefix("OrderShipped", "User")), "any-stream", "UserMarker"},
		{"event type regex anchored", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^User"},
			typeIs(matches("^User")), "any-stream", "UserMarker"},
		{"event type regex substring", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "Placed"},
			typeIs(matches("Placed")), "any-stream", "MarkerPlaced"},
		{"event type regex alternation", &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^(OrderShipped|UserRenamed)$"},
			typeIs(matches("^(OrderShipped|UserRenamed)$")), "any-stream", "OrderShipped"},
		{"stream prefix", &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"orders-"}},
			streamIs(hasPrefix("orders-")), "orders-marker", "Marker"},
		{"stream prefixes", &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"users-", "invoices-"}},
			streamIs(hasPrefix("users-", "invoices-")), "users-marker", "Marker"},
		{"metadata streams by prefix", &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"$$"}},
			streamIs(hasPrefix("$$")), "$$users-1", "$metadata"},
		{"stream regex", &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "-1$"},
			streamIs(matches("-1$")), "marker-1", "Marker"},
		{"exclude system events", esdb.ExcludeSystemEventsFilter(),
			typeIs(func(s string) bool { return !strings.HasPrefix(s, "$") }), "any-stream", "Marker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ctx := setup(t) // a server each: $all is shared state
			filterWorld(t, ctx, c)
			all := allEvents(t, ctx, c)
			var want []*esdb.ResolvedEvent
			for _, e := range all {
				if tc.want(e.Event) {
					want = append(want, e)
				}
			}
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("bad case: the filter passes %d of %d events", len(want), len(all))
			}
			sub := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: tc.filter})
			catch, _ := sub.untilCaughtUp(t)
			if !equalIDs(ids(catch), ids(want)) {
				t.Fatalf("catch-up delivered %s, want %s", describe(catch), describe(want))
			}

			// Live: the same world again, then a marker the filter passes.
			// Everything the filter passes must arrive, in order, and
			// nothing else before the marker.
			caughtUpAt := all[len(all)-1].Event.Position
			for _, s := range []string{"orders-1", "users-1", "orders-2"} {
				mustAppend(t, ctx, c, s, esdb.Any{}, jsonEvent("OrderPlaced", `{}`), jsonEvent("UserCreated", `{}`), jsonEvent("$custom", `{}`))
			}
			meta := esdb.StreamMetadata{}
			meta.SetMaxCount(10)
			if _, err := c.SetStreamMetadata(ctx, "users-1", esdb.AppendToStreamOptions{}, meta); err != nil {
				t.Fatal(err)
			}
			if _, err := c.TombstoneStream(ctx, "orders-2", esdb.TombstoneStreamOptions{}); err != nil {
				t.Fatal(err)
			}
			marker := jsonEvent(tc.markerType, `{}`)
			mustAppend(t, ctx, c, tc.markerStream, esdb.Any{}, marker)
			liveAll := readAll(t, ctx, c, esdb.ReadAllOptions{From: caughtUpAt}, 1000)[1:]
			var wantLive []*esdb.ResolvedEvent
			for _, e := range liveAll {
				if tc.want(e.Event) {
					wantLive = append(wantLive, e)
				}
			}
			if len(wantLive) == 0 || wantLive[len(wantLive)-1].Event.EventID != marker.EventID {
				t.Fatalf("bad case: the marker %s/%s does not pass the filter", tc.markerStream, tc.markerType)
			}
			var gotLive []*esdb.ResolvedEvent
			for len(gotLive) < len(wantLive) {
				gotLive = append(gotLive, sub.nextEvent(t))
			}
			if !equalIDs(ids(gotLive), ids(wantLive)) {
				t.Fatalf("live delivered %s, want %s", describe(gotLive), describe(wantLive))
			}
		})
	}
}

func describe(events []*esdb.ResolvedEvent) string {
	var b strings.Builder
	b.WriteString("[")
	for i, e := range events {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s@%d:%s", e.Event.StreamID, e.Event.EventNumber, e.Event.EventType)
	}
	b.WriteString("]")
	return b.String()
}

func TestSubscribeToAllCheckpoints(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		window     int // MaxSearchWindow
		multiplier int // CheckpointInterval
	}{
		{"window 1", 1, 1},
		{"window 2", 2, 1},
		{"window 2 times 3", 2, 3},
		{"default window", 0, 0},
		{"no max search window", esdb.NoMaxSearchWindow, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ctx := setup(t)
			const noise = 100
			appendMany(t, ctx, c, "noise-1", numbered("noise", noise/2))
			wanted := jsonEvent("wanted", `{}`)
			mustAppend(t, ctx, c, "wanted-1", esdb.Any{}, wanted)
			appendMany(t, ctx, c, "noise-1", numbered("noise", noise/2))
			all := allEvents(t, ctx, c)
			last := all[len(all)-1].Event.Position

			filter := &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"wanted"}}
			opts := esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: filter, MaxSearchWindow: tc.window, CheckpointInterval: tc.multiplier}
			sub := subscribeAll(t, ctx, c, opts)
			// Record the order of events and checkpoints during catch-up.
			var delivered *esdb.ResolvedEvent
			var before, after []esdb.Position // checkpoints before and after the event
			for done := false; !done; {
				e := sub.next(t)
				switch {
				case e.EventAppeared != nil:
					if delivered != nil {
						t.Fatalf("second event %s delivered", e.EventAppeared.Event.EventType)
					}
					delivered = e.EventAppeared
				case e.CheckPointReached != nil:
					if delivered == nil {
						before = append(before, *e.CheckPointReached)
					} else {
						after = append(after, *e.CheckPointReached)
					}
				case e.CaughtUp != nil:
					done = true
				case e.SubscriptionDropped != nil:
					t.Fatalf("dropped: %v", e.SubscriptionDropped.Error)
				}
			}
			if delivered == nil || delivered.Event.EventID != wanted.EventID {
				t.Fatalf("catch-up did not deliver the wanted event")
			}
			checkpoints := append(append([]esdb.Position{}, before...), after...)
			interval := max(tc.window, 0)
			if interval == 0 {
				interval = 32
			}
			interval *= max(tc.multiplier, 1)
			if wantMin := noise / interval / 2; len(checkpoints) < max(wantMin, 1) || len(checkpoints) > 2*(noise+2) {
				t.Errorf("%d checkpoints over %d events with interval %d", len(checkpoints), noise+1, interval)
			}
			wantedAt := delivered.Event.Position
			for i, cp := range checkpoints {
				if cp.Commit == 0 || cp.Commit > last.Commit || (i > 0 && cp.Commit < checkpoints[i-1].Commit) {
					t.Errorf("checkpoint %d at %+v (last event %+v, previous %+v)", i, cp, last, checkpoints[max(i-1, 0)])
				}
			}
			for _, cp := range before {
				if cp.Commit >= wantedAt.Commit {
					t.Errorf("checkpoint %+v sent before the event at %+v", cp, wantedAt)
				}
			}
			for _, cp := range after {
				if cp.Commit < wantedAt.Commit {
					t.Errorf("checkpoint %+v after the event at %+v goes back", cp, wantedAt)
				}
			}
			if len(after) == 0 {
				t.Fatalf("no checkpoint after the event: %d noise events followed it", noise/2)
			}

			// Live noise still produces checkpoints, past the catch-up end.
			appendMany(t, ctx, c, "noise-1", numbered("noise", 2*interval+1))
			for {
				e := sub.next(t)
				if e.EventAppeared != nil {
					t.Fatalf("noise %s passed the filter", e.EventAppeared.Event.EventType)
				}
				if e.CheckPointReached != nil && e.CheckPointReached.Commit > last.Commit {
					break
				}
			}

			// Resuming from a checkpoint: strictly after it.
			if len(before) > 0 {
				again := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: before[len(before)-1], Filter: filter})
				if got := again.nextEvent(t); got.Event.EventID != wanted.EventID {
					t.Errorf("resume before the event got %s", got.Event.EventType)
				}
			}
			again := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: after[0], Filter: filter})
			if events, _ := again.untilCaughtUp(t); len(events) != 0 {
				t.Errorf("resume after the event redelivered %s", describe(events))
			}
		})
	}
}

func TestSubscriptionSeesTombstone(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c, ctx := newClient(t, srv), testContext(t)
	stream := streamName(t)
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("e", 2)...)
	sub := subscribeStream(t, ctx, c, stream, esdb.Start{})
	all := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: esdb.End{}})
	if events, _ := sub.untilCaughtUp(t); len(events) != 2 {
		t.Fatalf("catch-up delivered %d events", len(events))
	}
	all.untilCaughtUp(t)

	// A raw subscription too, to see the trailers the client hides.
	raw := rawClient(t, srv)
	var trailer metadata.MD
	rawCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs, err := raw.Read(rawCtx, &streams.ReadReq{Options: &streams.ReadReq_Options{
		StreamOption: &streams.ReadReq_Options_Stream{Stream: &streams.ReadReq_Options_StreamOptions{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)},
			RevisionOption:   &streams.ReadReq_Options_StreamOptions_End{End: &shared.Empty{}},
		}},
		CountOption:   &streams.ReadReq_Options_Subscription{Subscription: &streams.ReadReq_Options_SubscriptionOptions{}},
		FilterOption:  &streams.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
		UuidOption:    &streams.ReadReq_Options_UUIDOption{Content: &streams.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}},
		ReadDirection: streams.ReadReq_Options_Forwards,
	}}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"confirmation", "caught_up"} {
		msg, err := rs.Recv()
		if err != nil {
			t.Fatalf("raw subscription: want %s, got %v", want, err)
		}
		if (want == "confirmation") != (msg.GetConfirmation() != nil) || (want == "caught_up") != (msg.GetCaughtUp() != nil) {
			t.Fatalf("raw subscription: want %s, got %v", want, msg)
		}
	}

	res, err := c.TombstoneStream(ctx, stream, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil {
		t.Fatal(err)
	}
	before, err := sub.dropped(t)
	if len(before) != 1 || before[0].Event.EventType != "$streamDeleted" || before[0].Event.StreamID != stream {
		t.Fatalf("before the drop got %s, want the $streamDeleted event", describe(before))
	}
	if before[0].Event.Position.Commit != res.Position.Commit {
		t.Errorf("$streamDeleted at %+v, tombstone said %+v", before[0].Event.Position, res.Position)
	}
	if grpcCode(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "deleted") {
		t.Errorf("dropped with %v, want stream-deleted", err)
	}

	msg, err := rs.Recv()
	if err != nil || msg.GetEvent().GetEvent().GetMetadata()["type"] != "$streamDeleted" {
		t.Fatalf("raw subscription: got %v, %v, want the $streamDeleted event", msg, err)
	}
	if _, err := rs.Recv(); grpcCode(err) != codes.FailedPrecondition {
		t.Fatalf("raw subscription ended with %v, want FailedPrecondition", err)
	}
	if ex, name := trailer.Get("exception"), trailer.Get("stream-name"); len(ex) != 1 || ex[0] != "stream-deleted" || len(name) != 1 || name[0] != stream {
		t.Errorf("trailers %v, want exception=stream-deleted stream-name=%s", trailer, stream)
	}

	// $all carries on past the tombstone.
	if got := all.nextEvent(t); got.Event.EventType != "$streamDeleted" {
		t.Errorf("$all got %s, want $streamDeleted", got.Event.EventType)
	}
	next := jsonEvent("after", `{}`)
	mustAppend(t, ctx, c, streamName(t), esdb.Any{}, next)
	if got := all.nextEvent(t); got.Event.EventID != next.EventID {
		t.Errorf("$all got %s after the tombstone", got.Event.EventType)
	}

	// New subscriptions to the tombstoned stream fail up front.
	for _, from := range []esdb.StreamPosition{esdb.Start{}, esdb.End{}, esdb.Revision(0)} {
		_, err := c.SubscribeToStream(ctx, stream, esdb.SubscribeToStreamOptions{From: from})
		wantCode(t, err, esdb.ErrorCodeStreamDeleted)
	}
}

func TestSubscriptionAcrossSoftDelete(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, numbered("old", 2)...)
	sub := subscribeStream(t, ctx, c, stream, esdb.Start{})
	sub.untilCaughtUp(t)
	if _, err := c.DeleteStream(ctx, stream, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(1)}); err != nil {
		t.Fatal(err)
	}
	recreated := jsonEvent("new", `{}`)
	mustAppend(t, ctx, c, stream, esdb.NoStream{}, recreated)
	if got := sub.nextEvent(t); got.Event.EventID != recreated.EventID || got.Event.EventNumber != 2 {
		t.Fatalf("live got %s@%d, want the recreated event at 2", got.Event.EventType, got.Event.EventNumber)
	}
	// A new subscription sees only the recreated stream.
	fresh := subscribeStream(t, ctx, c, stream, esdb.Start{})
	if events, _ := fresh.untilCaughtUp(t); !equalU64(revisions(events), []uint64{2}) {
		t.Fatalf("catch-up after recreation got %v, want [2]", revisions(events))
	}
}

// Cancelled subscriptions must end their server calls. Not parallel: it
// counts goroutines of the whole process.
func TestSubscriptionCancellationEndsServerCalls(t *testing.T) {
	srv := startServer(t)
	ctx := testContext(t)
	c1, c2 := newClient(t, srv), newClient(t, srv)
	stream := streamName(t)
	mustAppend(t, ctx, c1, stream, esdb.NoStream{}, numbered("e", 3)...)
	mustAppend(t, ctx, c2, streamName(t), esdb.NoStream{}, jsonEvent("e", `{}`))
	// Big events, so that a subscription nobody reads blocks the server in
	// Send on flow control.
	for i := 0; i < 4; i++ {
		mustAppend(t, ctx, c1, "big", esdb.Any{}, binaryEvent("big", bytes.Repeat([]byte{'x'}, 800<<10)))
	}
	eventually(t, "idle server", func() bool { return serverCalls() == 0 })
	baseline := runtime.NumGoroutine()

	// c1's subscriptions end by Close or by their context, c2's when the
	// client closes its connection.
	type open struct {
		sub    *subStream
		cancel context.CancelFunc
	}
	var byClose, byCancel, byDisconnect []open
	filter := &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"e"}}
	subscribeKinds := func(c *esdb.Client) []open {
		var out []open
		for i := 0; i < 4; i++ {
			subCtx, cancel := context.WithCancel(ctx)
			var s *subStream
			switch i {
			case 0:
				s = subscribeStream(t, subCtx, c, stream, esdb.Start{})
			case 1:
				s = subscribeStream(t, subCtx, c, streamName(t), esdb.End{})
			case 2:
				s = subscribeAll(t, subCtx, c, esdb.SubscribeToAllOptions{From: esdb.End{}})
			case 3:
				s = subscribeAll(t, subCtx, c, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: filter})
			}
			s.untilCaughtUp(t)
			out = append(out, open{s, cancel})
		}
		return out
	}
	for i := 0; i < 2; i++ {
		byClose = append(byClose, subscribeKinds(c1)...)
		byCancel = append(byCancel, subscribeKinds(c1)...)
		byDisconnect = append(byDisconnect, subscribeKinds(c2)...)
	}
	// One that never reads: the server is stuck sending catch-up events.
	stuckCtx, stuckCancel := context.WithCancel(ctx)
	if _, err := c1.SubscribeToAll(stuckCtx, esdb.SubscribeToAllOptions{From: esdb.Start{}}); err != nil {
		t.Fatal(err)
	}
	calls := len(byClose) + len(byCancel) + len(byDisconnect) + 1
	eventually(t, fmt.Sprintf("%d server calls", calls), func() bool { return serverCalls() == calls })
	if n := runtime.NumGoroutine(); n <= baseline+calls {
		t.Fatalf("%d goroutines with %d subscriptions open, %d before: cannot measure", n, calls, baseline)
	}

	for _, s := range byClose {
		s.sub.sub.Close()
	}
	eventually(t, "Close ends server calls", func() bool { return serverCalls() == calls-len(byClose) })
	for _, s := range byCancel {
		s.cancel()
	}
	stuckCancel()
	eventually(t, "context cancellation ends server calls", func() bool { return serverCalls() == len(byDisconnect) })
	c2.Close()
	eventually(t, "disconnection ends server calls", func() bool { return serverCalls() == 0 })
	for _, s := range byDisconnect {
		if _, err := s.sub.dropped(t); err == nil {
			t.Errorf("subscription of a closed client dropped without error")
		}
		s.cancel()
	}
	eventually(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}
