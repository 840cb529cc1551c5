package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/relay"
)

func startPlatform(t *testing.T) *platform.Platform {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func runRelay(t *testing.T, p *platform.Platform) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := relay.New(relay.Config{Log: p.ESDB, JetStream: p.JetStream, Stream: "FEED", Subject: "feed", MaxInFlight: 16})
	go func() { _ = r.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func waitForMessages(t *testing.T, s jetstream.Stream, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := s.Info(context.Background())
		if err == nil && info.State.Msgs >= n {
			if info.State.Msgs > n {
				t.Fatalf("%d messages, want %d", info.State.Msgs, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages arrived", info.State.Msgs, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelayForwardsInOrderAndResumes(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	stream, err := relay.EnsureStream(ctx, p.JetStream, "FEED", "feed", 1)
	if err != nil {
		t.Fatal(err)
	}
	var sent []uuid.UUID
	appendEvents := func(n int) {
		for i := range n {
			id := uuid.New()
			data := []byte(fmt.Sprintf(`{"i":%d}`, i))
			if i%10 == 9 {
				data = []byte("not json") // still relayed; projectors park it
			}
			name := fmt.Sprintf("user-%d", i%3)
			if i%4 == 0 {
				name = fmt.Sprintf("username-n%d", i)
			}
			if _, err := p.ESDB.AppendToStream(ctx, name, esdb.AppendToStreamOptions{}, esdb.EventData{EventID: id, EventType: "test.happened", ContentType: esdb.ContentTypeJson, Data: data}); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, id)
		}
		// System events ($metadata) are not relayed.
		if _, err := p.ESDB.SetStreamMetadata(ctx, "user-0", esdb.AppendToStreamOptions{}, esdb.StreamMetadata{}); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(25)
	stop := runRelay(t, p)
	waitForMessages(t, stream, 25)
	stop()
	appendEvents(30)
	stop = runRelay(t, p)
	waitForMessages(t, stream, 55)
	stop()

	var lastPos uint64
	for seq := uint64(1); seq <= 55; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var env events.Envelope
		if err := json.Unmarshal(msg.Data, &env); err != nil {
			t.Fatal(err)
		}
		if env.ID != sent[seq-1].String() || msg.Header.Get(jetstream.MsgIDHeader) != env.ID {
			t.Fatalf("message %d is %s (msg id %q), want %s", seq, env.ID, msg.Header.Get(jetstream.MsgIDHeader), sent[seq-1])
		}
		pos, _ := strconv.ParseUint(msg.Header.Get(relay.PositionHeader), 10, 64)
		if pos != env.Position || pos <= lastPos {
			t.Fatalf("message %d position %d after %d", seq, pos, lastPos)
		}
		lastPos = pos
		if want := relay.SubjectFor("feed", env.Stream); msg.Subject != want {
			t.Fatalf("subject %s, want %s", msg.Subject, want)
		}
		if !json.Valid(env.Data) {
			t.Fatalf("message %d data is not JSON: %s", seq, env.Data)
		}
	}
}

func TestSubjectFor(t *testing.T) {
	tests := map[string]string{
		"user-42":         "feed.user",
		"username-ada":    "feed.username",
		"plain":           "feed.plain",
		"we.ird*stream-1": "feed.we_ird_stream",
		"-leading":        "feed._",
	}
	for stream, want := range tests {
		if got := relay.SubjectFor("feed", stream); got != want {
			t.Errorf("SubjectFor(%q) = %q, want %q", stream, got, want)
		}
	}
}

// A stored picture reaches JetStream without its bytes; everything else
// of the event, and every other event, as it is.
func TestRelayLeavesPictureBytesInTheLog(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	stream, err := relay.EnsureStream(ctx, p.JetStream, "FEED", "feed", 1)
	if err != nil {
		t.Fatal(err)
	}
	stored := []byte(`{"user_id":"u1","sha256":"ab","content_type":"image/png","width":4,"height":3,"data":"c2VhbGVkIGJ5dGVz"}`)
	changed := []byte(`{"user_id":"u1","sha256":"ab","content_type":"image/png","revision":0}`)
	for _, e := range []struct {
		stream, typ string
		data        []byte
	}{{events.PicturesStream("u1"), events.PictureStored, stored}, {events.UserStream("u1"), events.UserPictureChanged, changed}} {
		if _, err := p.ESDB.AppendToStream(ctx, e.stream, esdb.AppendToStreamOptions{},
			esdb.EventData{EventID: uuid.New(), EventType: e.typ, ContentType: esdb.ContentTypeJson, Data: e.data}); err != nil {
			t.Fatal(err)
		}
	}
	stop := runRelay(t, p)
	waitForMessages(t, stream, 2)
	stop()
	for seq, want := range map[uint64]string{
		1: `{"content_type":"image/png","height":3,"sha256":"ab","user_id":"u1","width":4}`,
		2: string(changed),
	} {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var env events.Envelope
		if err := json.Unmarshal(msg.Data, &env); err != nil {
			t.Fatal(err)
		}
		if string(env.Data) != want {
			t.Fatalf("message %d data %s, want %s", seq, env.Data, want)
		}
	}
}

// syncBuffer is a log both relays write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Two replicas' relays: elected by a lease (the leader stopped halfway
// hands over), or racing with no lease at all (a zombie leader). Either
// way the stream holds every event once, in log order, and the one that
// lost a race says so quietly.
func TestTwoRelaysNoGapNoDuplicate(t *testing.T) {
	for _, leased := range []bool{true, false} {
		name := "racing, no lease"
		if leased {
			name = "one leader by lease, stopped halfway"
		}
		t.Run(name, func(t *testing.T) {
			p := startPlatform(t)
			ctx := context.Background()
			stream, err := relay.EnsureStream(ctx, p.JetStream, "FEED", "feed", 1)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			c := coord.New(p.JetStream, coord.Options{LeaseTTL: 3 * time.Second})
			stops := map[string]func(){}
			for _, holder := range []string{"a", "b"} {
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				r := relay.New(relay.Config{Log: p.ESDB, JetStream: p.JetStream, Stream: "FEED", Subject: "feed", MaxInFlight: 16, Logger: logger.With("holder", holder)})
				go func() {
					if !leased {
						done <- r.Run(runCtx)
						return
					}
					l := &coord.Lease{Coord: c, Name: "relay", Holder: holder, Logger: logger}
					done <- l.Run(runCtx, func(ctx context.Context, _ uint64) error { return r.Run(ctx) })
				}()
				stops[holder] = func() {
					cancel()
					if err := <-done; err != nil {
						t.Errorf("relay %s: %v", holder, err)
					}
				}
			}
			var sent []uuid.UUID
			appendEvents := func(n int) {
				for i := range n {
					id := uuid.New()
					if _, err := p.ESDB.AppendToStream(ctx, fmt.Sprintf("user-%d", i%7), esdb.AppendToStreamOptions{},
						esdb.EventData{EventID: id, EventType: "test.happened", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
						t.Fatal(err)
					}
					sent = append(sent, id)
				}
			}
			appendEvents(60)
			waitForMessages(t, stream, 60)
			if leased {
				holder, err := c.Holder(ctx, "relay")
				if err != nil || holder == "" {
					t.Fatalf("relay lease held by %q (%v)", holder, err)
				}
				stops[holder]()
				delete(stops, holder)
			}
			appendEvents(60)
			waitForMessages(t, stream, 120)
			for _, stop := range stops {
				stop()
			}
			for seq := uint64(1); seq <= 120; seq++ {
				msg, err := stream.GetMsg(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				var env events.Envelope
				if err := json.Unmarshal(msg.Data, &env); err != nil {
					t.Fatal(err)
				}
				if env.ID != sent[seq-1].String() {
					t.Fatalf("message %d is %s, want %s", seq, env.ID, sent[seq-1])
				}
			}
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("a relay logged alarmingly: %s", line)
				}
			}
			t.Logf("fenced publishes: %d", strings.Count(logs.String(), "another relay published first"))
		})
	}
}

// A NATS node that took a publish and died never acknowledges it, and
// nats.go fails pending publishes only when the relay's own connection
// drops: the relay must give up on it and fail (its supervisor resumes it
// from the stream's tail), not wait for ever holding the lease while the
// feed stands still. The node is played by a subscriber that swallows the
// feed's subjects once the stream is gone.
func TestRelayFailsWhenAPublishIsNeverAcknowledged(t *testing.T) {
	p := startPlatform(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := relay.EnsureStream(ctx, p.JetStream, "FEED", "feed", 1)
	if err != nil {
		t.Fatal(err)
	}
	appendOne := func() {
		t.Helper()
		ev := esdb.EventData{EventID: uuid.New(), EventType: "test.happened", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}
		if _, err := p.ESDB.AppendToStream(ctx, "user-1", esdb.AppendToStreamOptions{}, ev); err != nil {
			t.Fatal(err)
		}
	}
	appendOne()
	r := relay.New(relay.Config{Log: p.ESDB, JetStream: p.JetStream, Stream: "FEED", Subject: "feed", AckTimeout: time.Second})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitForMessages(t, stream, 1)
	if err := p.JetStream.DeleteStream(ctx, "FEED"); err != nil {
		t.Fatal(err)
	}
	swallow, err := p.NATS.SubscribeSync("feed.>")
	if err != nil {
		t.Fatal(err)
	}
	defer swallow.Unsubscribe()
	appendOne()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no acknowledgement") {
			t.Fatalf("relay ended with %v", err)
		}
		t.Logf("relay: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the relay still waits for an acknowledgement that never comes")
	}
}
