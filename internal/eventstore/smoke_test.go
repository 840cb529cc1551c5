package eventstore_test

import (
	"errors"
	"io"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

func TestSmokeAppendRead(t *testing.T) {
	srv := startServer(t)
	client := newClient(t, srv)
	ctx := testContext(t)
	stream := streamName(t)
	res, err := client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, jsonEvent("a", `{"n":1}`), jsonEvent("b", `{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("append: %+v", res)
	rs, err := client.ReadStream(ctx, stream, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %d %s %s %v", ev.Event.StreamID, ev.Event.EventNumber, ev.Event.EventType, ev.Event.Data, ev.Event.CreatedDate)
	}
	sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := 0; i < 3; i++ {
		e := sub.Recv()
		switch {
		case e.EventAppeared != nil:
			t.Logf("sub event %s@%d pos %v", e.EventAppeared.Event.StreamID, e.EventAppeared.Event.EventNumber, e.EventAppeared.Event.Position)
		case e.CaughtUp != nil:
			t.Logf("caught up")
		case e.SubscriptionDropped != nil:
			t.Fatal(e.SubscriptionDropped.Error)
		}
	}
}
