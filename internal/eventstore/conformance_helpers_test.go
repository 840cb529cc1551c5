package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/accountd/accountd/internal/eventstore"
)

// waitFor bounds every wait on the server; it is a hang detector, not a
// performance assertion.
const waitFor = 15 * time.Second

// testClock is a Config.Now that tests move forward instead of sleeping.
type testClock struct {
	offset atomic.Int64 // nanoseconds added to the wall clock
}

func (c *testClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// startServerWith is startServer with a caller-supplied Config; empty Listen
// and DataDir get a free port and a fresh directory.
func startServerWith(t testing.TB, cfg eventstore.Config) *eventstore.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if len(cfg.Users) == 0 {
		cfg.Insecure = true // the protocol conformance suite; auth_test.go covers credentials
	}
	srv, err := eventstore.Start(cfg)
	if err != nil {
		t.Fatalf("start event store: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close event store: %v", err)
		}
	})
	return srv
}

// setup is the usual server, client and context of one test.
func setup(t testing.TB) (*esdb.Client, context.Context) {
	t.Helper()
	srv := startServer(t)
	return newClient(t, srv), testContext(t)
}

// rawClient is the generated gRPC client, for requests the official client
// cannot produce.
func rawClient(t testing.TB, srv *eventstore.Server) streams.StreamsClient {
	t.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return streams.NewStreamsClient(conn)
}

func binaryEvent(eventType string, data []byte) esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: eventType, ContentType: esdb.ContentTypeBinary, Data: data}
}

// numbered returns n JSON events of eventType whose data is {"n":i}.
func numbered(eventType string, n int) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = jsonEvent(eventType, fmt.Sprintf(`{"n":%d}`, i))
	}
	return out
}

func mustAppend(t testing.TB, ctx context.Context, c *esdb.Client, stream string, expected esdb.ExpectedRevision, events ...esdb.EventData) *esdb.WriteResult {
	t.Helper()
	res, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expected}, events...)
	if err != nil {
		t.Fatalf("append %d events to %s (expected %T %v): %v", len(events), stream, expected, expected, err)
	}
	return res
}

// appendMany writes events in batches that stay well under the append limit.
func appendMany(t testing.TB, ctx context.Context, c *esdb.Client, stream string, events []esdb.EventData) {
	t.Helper()
	for len(events) > 0 {
		n := min(len(events), 200)
		mustAppend(t, ctx, c, stream, esdb.Any{}, events[:n]...)
		events = events[n:]
	}
}

// drain reads rs to its end. It fails the test on a hang.
func drain(t testing.TB, rs *esdb.ReadStream) ([]*esdb.ResolvedEvent, error) {
	t.Helper()
	defer rs.Close()
	var out []*esdb.ResolvedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			// A finished read stays finished.
			if _, again := rs.Recv(); !errors.Is(again, io.EOF) {
				t.Errorf("Recv after EOF: %v, want EOF", again)
			}
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func readStream(t testing.TB, ctx context.Context, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) ([]*esdb.ResolvedEvent, error) {
	t.Helper()
	rs, err := c.ReadStream(ctx, stream, opts, count)
	if err != nil {
		return nil, err
	}
	return drain(t, rs)
}

func mustReadStream(t testing.TB, ctx context.Context, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) []*esdb.ResolvedEvent {
	t.Helper()
	events, err := readStream(t, ctx, c, stream, opts, count)
	if err != nil {
		t.Fatalf("read %s %+v count %d: %v", stream, opts, count, err)
	}
	return events
}

func readAll(t testing.TB, ctx context.Context, c *esdb.Client, opts esdb.ReadAllOptions, count uint64) []*esdb.ResolvedEvent {
	t.Helper()
	rs, err := c.ReadAll(ctx, opts, count)
	if err != nil {
		t.Fatalf("read $all: %v", err)
	}
	events, err := drain(t, rs)
	if err != nil {
		t.Fatalf("read $all %+v count %d: %v", opts, count, err)
	}
	return events
}

// allEvents is the whole of $all, forwards.
func allEvents(t testing.TB, ctx context.Context, c *esdb.Client) []*esdb.ResolvedEvent {
	t.Helper()
	return readAll(t, ctx, c, esdb.ReadAllOptions{From: esdb.Start{}}, 1<<20)
}

func revisions(events []*esdb.ResolvedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Event.EventNumber
	}
	return out
}

func commits(events []*esdb.ResolvedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Event.Position.Commit
	}
	return out
}

func span(from, to uint64) []uint64 { // inclusive; descending when from > to
	var out []uint64
	if from <= to {
		for r := from; r <= to; r++ {
			out = append(out, r)
		}
		return out
	}
	for r := from; ; r-- {
		out = append(out, r)
		if r == to {
			return out
		}
	}
}

func equalU64(a, b []uint64) bool {
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

// errorCode is the official client's classification of err.
func errorCode(err error) (esdb.ErrorCode, bool) {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}

func wantCode(t testing.TB, err error, want esdb.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want error code %d", want)
	}
	got, ok := errorCode(err)
	if !ok || got != want {
		t.Fatalf("got error %v (code %d), want code %d", err, got, want)
	}
}

// grpcCode digs the gRPC status code out of a (wrapped) error.
func grpcCode(err error) codes.Code {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	return status.Code(err)
}

// checkEvent verifies the fields every recorded event must carry.
func checkEvent(t testing.TB, e *esdb.ResolvedEvent, notBefore, notAfter time.Time) {
	t.Helper()
	ev := e.Event
	if ev == nil {
		t.Fatalf("resolved event without event")
	}
	if ev.EventID == [16]byte{} {
		t.Errorf("%s@%d: nil event id", ev.StreamID, ev.EventNumber)
	}
	if ev.EventType == "" || ev.StreamID == "" {
		t.Errorf("%s@%d: type %q stream %q", ev.StreamID, ev.EventNumber, ev.EventType, ev.StreamID)
	}
	if ev.ContentType != "application/json" && ev.ContentType != "application/octet-stream" {
		t.Errorf("%s@%d: content type %q", ev.StreamID, ev.EventNumber, ev.ContentType)
	}
	if ev.Position.Commit == 0 || ev.Position.Commit != ev.Position.Prepare {
		t.Errorf("%s@%d: position %+v", ev.StreamID, ev.EventNumber, ev.Position)
	}
	// created has 100 ns resolution.
	lo, hi := notBefore.Truncate(100*time.Nanosecond), notAfter
	if ev.CreatedDate.Before(lo) || ev.CreatedDate.After(hi) {
		t.Errorf("%s@%d: created %v outside [%v, %v]", ev.StreamID, ev.EventNumber, ev.CreatedDate, lo, hi)
	}
	if ev.CreatedDate.Location() != time.UTC {
		t.Errorf("created %v is not UTC", ev.CreatedDate)
	}
}

// --- subscriptions -----------------------------------------------------------

// subStream pumps a subscription into a channel so tests can wait on it
// with a deadline instead of blocking forever in Recv.
type subStream struct {
	sub    *esdb.Subscription
	events chan *esdb.SubscriptionEvent
	done   chan struct{}
}

func pump(t testing.TB, sub *esdb.Subscription) *subStream {
	t.Helper()
	s := &subStream{sub: sub, events: make(chan *esdb.SubscriptionEvent, 4096), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			e := sub.Recv()
			s.events <- e
			if e.SubscriptionDropped != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		sub.Close()
		<-s.done
	})
	return s
}

func (s *subStream) next(t testing.TB) *esdb.SubscriptionEvent {
	t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(waitFor):
		t.Fatalf("no subscription message within %v", waitFor)
		return nil
	}
}

// nextEvent skips checkpoints and returns the next event; it fails on a
// drop or a caught-up message.
func (s *subStream) nextEvent(t testing.TB) *esdb.ResolvedEvent {
	t.Helper()
	for {
		e := s.next(t)
		switch {
		case e.EventAppeared != nil:
			return e.EventAppeared
		case e.CheckPointReached != nil:
			continue
		case e.SubscriptionDropped != nil:
			t.Fatalf("subscription dropped: %v", e.SubscriptionDropped.Error)
		case e.CaughtUp != nil:
			t.Fatalf("unexpected caught-up while waiting for an event")
		default:
			t.Fatalf("unexpected subscription message %+v", e)
		}
	}
}

// untilCaughtUp collects events (and checkpoints) up to caught-up.
func (s *subStream) untilCaughtUp(t testing.TB) (events []*esdb.ResolvedEvent, checkpoints []esdb.Position) {
	t.Helper()
	for {
		e := s.next(t)
		switch {
		case e.EventAppeared != nil:
			events = append(events, e.EventAppeared)
		case e.CheckPointReached != nil:
			checkpoints = append(checkpoints, *e.CheckPointReached)
		case e.CaughtUp != nil:
			return events, checkpoints
		case e.SubscriptionDropped != nil:
			t.Fatalf("subscription dropped before caught-up: %v", e.SubscriptionDropped.Error)
		}
	}
}

// dropped waits for the subscription to end and returns why.
func (s *subStream) dropped(t testing.TB) (before []*esdb.ResolvedEvent, err error) {
	t.Helper()
	for {
		e := s.next(t)
		switch {
		case e.EventAppeared != nil:
			before = append(before, e.EventAppeared)
		case e.SubscriptionDropped != nil:
			return before, e.SubscriptionDropped.Error
		}
	}
}

// --- goroutines --------------------------------------------------------------

// serverCalls counts goroutines running a Streams handler of this package.
func serverCalls() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/eventstore.(*streamsService)") {
			count++
		}
	}
	return count
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
