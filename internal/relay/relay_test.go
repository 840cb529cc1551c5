package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/events"
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
	stream, err := relay.EnsureStream(ctx, p.JetStream, "FEED", "feed")
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
	stream, err := relay.EnsureStream(ctx, p.JetStream, "FEED", "feed")
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
