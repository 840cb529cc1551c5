package eventstore_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// callContext bounds one bad request: a server that hangs fails the test
// with DeadlineExceeded instead of blocking it.
func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func structuredID(id uuid.UUID) *shared.UUID {
	most, least := esdb.UUIDAsInt64(id)
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}}
}

func appendOptions(stream string) *streams.AppendReq {
	return &streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte(stream)},
		ExpectedStreamRevision: &streams.AppendReq_Options_Any{Any: &shared.Empty{}},
	}}}
}

func proposed(mutate func(m *streams.AppendReq_ProposedMessage)) *streams.AppendReq {
	m := &streams.AppendReq_ProposedMessage{
		Id:             structuredID(uuid.New()),
		Metadata:       map[string]string{"type": "t", "content-type": "application/json"},
		Data:           []byte(`{}`),
		CustomMetadata: []byte{},
	}
	if mutate != nil {
		mutate(m)
	}
	return &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: m}}
}

// rawAppend sends msgs as one Append call and returns its outcome.
func rawAppend(ctx context.Context, raw streams.StreamsClient, msgs ...*streams.AppendReq) (*streams.AppendResp, error) {
	call, err := raw.Append(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if err := call.Send(m); err != nil {
			break // the server answered early; CloseAndRecv has its answer
		}
	}
	return call.CloseAndRecv()
}

func TestBadAppendRequests(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	raw, c, ctx := rawClient(t, srv), newClient(t, srv), testContext(t)
	cases := []struct {
		name string
		msgs func(stream string) []*streams.AppendReq
	}{
		{"no messages", func(string) []*streams.AppendReq { return nil }},
		{"first message is an event", func(string) []*streams.AppendReq { return []*streams.AppendReq{proposed(nil)} }},
		{"empty request", func(string) []*streams.AppendReq { return []*streams.AppendReq{{}} }},
		{"options without expected revision", func(s string) []*streams.AppendReq {
			o := appendOptions(s)
			o.GetOptions().ExpectedStreamRevision = nil
			return []*streams.AppendReq{o, proposed(nil)}
		}},
		{"options twice", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(nil), appendOptions(s)}
		}},
		{"empty stream name", func(string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(""), proposed(nil)}
		}},
		{"no stream identifier", func(s string) []*streams.AppendReq {
			o := appendOptions(s)
			o.GetOptions().StreamIdentifier = nil
			return []*streams.AppendReq{o, proposed(nil)}
		}},
		{"missing event id", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { m.Id = nil })}
		}},
		{"event id without value", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { m.Id = &shared.UUID{} })}
		}},
		{"event id not a uuid", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) {
				m.Id = &shared.UUID{Value: &shared.UUID_String_{String_: "not-a-uuid"}}
			})}
		}},
		{"all-zero event id", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { m.Id = structuredID(uuid.Nil) })}
		}},
		{"missing type", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { delete(m.Metadata, "type") })}
		}},
		{"empty type", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { m.Metadata["type"] = "" })}
		}},
		{"missing content type", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { delete(m.Metadata, "content-type") })}
		}},
		{"no metadata", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(func(m *streams.AppendReq_ProposedMessage) { m.Metadata = nil })}
		}},
		{"bad event after good ones", func(s string) []*streams.AppendReq {
			return []*streams.AppendReq{appendOptions(s), proposed(nil), proposed(nil), proposed(func(m *streams.AppendReq_ProposedMessage) { m.Id = nil }), proposed(nil)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream := streamName(t)
			resp, err := rawAppend(callContext(t), raw, tc.msgs(stream)...)
			if code := grpcCode(err); code != codes.InvalidArgument {
				t.Fatalf("got %v, %v (code %v), want InvalidArgument", resp, err, code)
			}
			_, err = readStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
			wantCode(t, err, esdb.ErrorCodeResourceNotFound)
		})
	}
	// Still serving.
	if _, err := rawAppend(callContext(t), raw, appendOptions(streamName(t)), proposed(nil)); err != nil {
		t.Fatalf("good append after bad ones: %v", err)
	}
}

func readOptions(stream string) *streams.ReadReq_Options {
	return &streams.ReadReq_Options{
		StreamOption: &streams.ReadReq_Options_Stream{Stream: &streams.ReadReq_Options_StreamOptions{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)},
			RevisionOption:   &streams.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
		}},
		ReadDirection: streams.ReadReq_Options_Forwards,
		CountOption:   &streams.ReadReq_Options_Count{Count: 10},
		FilterOption:  &streams.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
		UuidOption:    &streams.ReadReq_Options_UUIDOption{Content: &streams.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}},
	}
}

func allSubscriptionOptions(filter *streams.ReadReq_Options_FilterOptions) *streams.ReadReq_Options {
	o := readOptions("")
	o.StreamOption = &streams.ReadReq_Options_All{All: &streams.ReadReq_Options_AllOptions{
		AllOption: &streams.ReadReq_Options_AllOptions_Start{Start: &shared.Empty{}},
	}}
	o.CountOption = &streams.ReadReq_Options_Subscription{Subscription: &streams.ReadReq_Options_SubscriptionOptions{}}
	o.FilterOption = &streams.ReadReq_Options_Filter{Filter: filter}
	return o
}

func eventTypeFilter(regex string, prefixes ...string) *streams.ReadReq_Options_FilterOptions {
	return &streams.ReadReq_Options_FilterOptions{
		Filter: &streams.ReadReq_Options_FilterOptions_EventType{EventType: &streams.ReadReq_Options_FilterOptions_Expression{
			Regex: regex, Prefix: prefixes,
		}},
		Window:                       &streams.ReadReq_Options_FilterOptions_Max{Max: 32},
		CheckpointIntervalMultiplier: 1,
	}
}

func TestBadReadRequests(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	raw, c, ctx := rawClient(t, srv), newClient(t, srv), testContext(t)
	existing := streamName(t)
	mustAppend(t, ctx, c, existing, esdb.NoStream{}, jsonEvent("e", `{}`))
	cases := []struct {
		name string
		req  func() *streams.ReadReq
	}{
		{"no options", func() *streams.ReadReq { return &streams.ReadReq{} }},
		{"no stream option", func() *streams.ReadReq {
			o := readOptions(existing)
			o.StreamOption = nil
			return &streams.ReadReq{Options: o}
		}},
		{"stream option without stream", func() *streams.ReadReq {
			o := readOptions(existing)
			o.StreamOption = &streams.ReadReq_Options_Stream{}
			return &streams.ReadReq{Options: o}
		}},
		{"stream without revision option", func() *streams.ReadReq {
			o := readOptions(existing)
			o.GetStream().RevisionOption = nil
			return &streams.ReadReq{Options: o}
		}},
		{"$all without position option", func() *streams.ReadReq {
			o := readOptions(existing)
			o.StreamOption = &streams.ReadReq_Options_All{All: &streams.ReadReq_Options_AllOptions{}}
			return &streams.ReadReq{Options: o}
		}},
		{"empty stream name", func() *streams.ReadReq { return &streams.ReadReq{Options: readOptions("")} }},
		{"no stream identifier", func() *streams.ReadReq {
			o := readOptions(existing)
			o.GetStream().StreamIdentifier = nil
			return &streams.ReadReq{Options: o}
		}},
		{"unknown read direction", func() *streams.ReadReq {
			o := readOptions(existing)
			o.ReadDirection = streams.ReadReq_Options_ReadDirection(7)
			return &streams.ReadReq{Options: o}
		}},
		{"no count or subscription option", func() *streams.ReadReq {
			o := readOptions(existing)
			o.CountOption = nil
			return &streams.ReadReq{Options: o}
		}},
		{"filter with regex and prefix", func() *streams.ReadReq {
			return &streams.ReadReq{Options: allSubscriptionOptions(eventTypeFilter("^e", "e"))}
		}},
		{"filter with invalid regex", func() *streams.ReadReq {
			return &streams.ReadReq{Options: allSubscriptionOptions(eventTypeFilter("(["))}
		}},
		{"filter with neither regex nor prefix", func() *streams.ReadReq {
			return &streams.ReadReq{Options: allSubscriptionOptions(eventTypeFilter(""))}
		}},
		{"filter without a kind", func() *streams.ReadReq {
			f := eventTypeFilter("^e")
			f.Filter = nil
			return &streams.ReadReq{Options: allSubscriptionOptions(f)}
		}},
		{"filter with a zero window", func() *streams.ReadReq {
			f := eventTypeFilter("^e")
			f.Window = &streams.ReadReq_Options_FilterOptions_Max{Max: 0}
			return &streams.ReadReq{Options: allSubscriptionOptions(f)}
		}},
		{"filtered read of $all with invalid regex", func() *streams.ReadReq {
			o := allSubscriptionOptions(eventTypeFilter("(["))
			o.CountOption = &streams.ReadReq_Options_Count{Count: 10}
			return &streams.ReadReq{Options: o}
		}},
		{"subscription with empty stream name", func() *streams.ReadReq {
			o := readOptions("")
			o.CountOption = &streams.ReadReq_Options_Subscription{Subscription: &streams.ReadReq_Options_SubscriptionOptions{}}
			return &streams.ReadReq{Options: o}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			call, err := raw.Read(callContext(t), tc.req())
			if err == nil {
				var msg *streams.ReadResp
				msg, err = call.Recv()
				if err == nil {
					t.Fatalf("got %v, want an error", msg)
				}
			}
			if code := grpcCode(err); code != codes.InvalidArgument {
				t.Fatalf("got %v (code %v), want InvalidArgument", err, code)
			}
		})
	}
	// A filter the client can build but the server must refuse.
	_, err := c.SubscribeToAll(callContext(t), esdb.SubscribeToAllOptions{From: esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "(["}})
	if err == nil {
		t.Errorf("subscription with an invalid regex succeeded")
	}
	// Still serving.
	if got := mustReadStream(t, ctx, c, existing, esdb.ReadStreamOptions{}, 10); len(got) != 1 {
		t.Fatalf("read after bad requests: %d events", len(got))
	}
}

func TestBadDeleteRequests(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	raw, c, ctx := rawClient(t, srv), newClient(t, srv), testContext(t)
	existing := streamName(t)
	mustAppend(t, ctx, c, existing, esdb.NoStream{}, jsonEvent("e", `{}`))
	id := &shared.StreamIdentifier{StreamName: []byte(existing)}
	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"delete without options", func(ctx context.Context) error {
			_, err := raw.Delete(ctx, &streams.DeleteReq{})
			return err
		}},
		{"delete without expected revision", func(ctx context.Context) error {
			_, err := raw.Delete(ctx, &streams.DeleteReq{Options: &streams.DeleteReq_Options{StreamIdentifier: id}})
			return err
		}},
		{"delete without stream", func(ctx context.Context) error {
			_, err := raw.Delete(ctx, &streams.DeleteReq{Options: &streams.DeleteReq_Options{
				ExpectedStreamRevision: &streams.DeleteReq_Options_Any{Any: &shared.Empty{}}}})
			return err
		}},
		{"tombstone without options", func(ctx context.Context) error {
			_, err := raw.Tombstone(ctx, &streams.TombstoneReq{})
			return err
		}},
		{"tombstone without expected revision", func(ctx context.Context) error {
			_, err := raw.Tombstone(ctx, &streams.TombstoneReq{Options: &streams.TombstoneReq_Options{StreamIdentifier: id}})
			return err
		}},
		{"tombstone without stream", func(ctx context.Context) error {
			_, err := raw.Tombstone(ctx, &streams.TombstoneReq{Options: &streams.TombstoneReq_Options{
				ExpectedStreamRevision: &streams.TombstoneReq_Options_Any{Any: &shared.Empty{}}}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.call(callContext(t)); grpcCode(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
		})
	}
	if got := mustReadStream(t, ctx, c, existing, esdb.ReadStreamOptions{}, 10); len(got) != 1 {
		t.Fatalf("bad deletes changed the stream: %d events", len(got))
	}
}

// The same refusals through the official client.
func TestClientEmptyStreamNameAndEventType(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	checks := []struct {
		name string
		run  func() error
	}{
		{"append", func() error {
			_, err := c.AppendToStream(ctx, "", esdb.AppendToStreamOptions{}, jsonEvent("e", `{}`))
			return err
		}},
		{"read", func() error {
			_, err := readStream(t, ctx, c, "", esdb.ReadStreamOptions{}, 10)
			return err
		}},
		{"read backwards", func() error {
			_, err := readStream(t, ctx, c, "", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10)
			return err
		}},
		{"delete", func() error {
			_, err := c.DeleteStream(ctx, "", esdb.DeleteStreamOptions{})
			return err
		}},
		{"tombstone", func() error {
			_, err := c.TombstoneStream(ctx, "", esdb.TombstoneStreamOptions{})
			return err
		}},
		{"subscribe", func() error {
			sub, err := c.SubscribeToStream(ctx, "", esdb.SubscribeToStreamOptions{From: esdb.Start{}})
			if err == nil {
				sub.Close()
			}
			return err
		}},
		{"get metadata", func() error {
			_, err := c.GetStreamMetadata(ctx, "", esdb.ReadStreamOptions{})
			return err
		}},
		{"event without type", func() error {
			_, err := c.AppendToStream(ctx, streamName(t), esdb.AppendToStreamOptions{}, jsonEvent("", `{}`))
			return err
		}},
	}
	for _, check := range checks {
		t.Run(check.name, func(t *testing.T) {
			err := check.run()
			if err == nil {
				t.Fatalf("succeeded")
			}
			// "get metadata" reads "$$", a valid name with no stream.
			if check.name == "get metadata" {
				wantCode(t, err, esdb.ErrorCodeResourceNotFound)
				return
			}
			if code := grpcCode(err); code != codes.InvalidArgument {
				t.Errorf("got %v (code %v), want InvalidArgument", err, code)
			}
		})
	}
	if n := len(readAll(t, ctx, c, esdb.ReadAllOptions{From: esdb.Start{}}, 100)); n != 0 {
		t.Errorf("bad requests wrote %d events", n)
	}
}

// Clients that go away mid-append write nothing and leave no call behind.
// Not parallel: it counts the server's calls.
func TestDisconnectMidAppend(t *testing.T) {
	srv := startServer(t)
	c, ctx := newClient(t, srv), testContext(t)
	eventually(t, "idle server", func() bool { return serverCalls() == 0 })
	for _, how := range []string{"cancel", "close connection"} {
		t.Run(how, func(t *testing.T) {
			conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			callCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			call, err := streams.NewStreamsClient(conn).Append(callCtx)
			if err != nil {
				t.Fatal(err)
			}
			stream := streamName(t)
			for _, m := range []*streams.AppendReq{appendOptions(stream), proposed(nil), proposed(nil)} {
				if err := call.Send(m); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "append call on the server", func() bool { return serverCalls() == 1 })
			// Give the server the events: it must still write nothing.
			time.Sleep(50 * time.Millisecond)
			if how == "cancel" {
				cancel()
			} else {
				conn.Close()
			}
			eventually(t, "append call ended", func() bool { return serverCalls() == 0 })
			_, err = readStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
			wantCode(t, err, esdb.ErrorCodeResourceNotFound)
			if _, err := call.CloseAndRecv(); err == nil || err == io.EOF {
				t.Errorf("abandoned append reported %v", err)
			}
		})
	}
	if n := len(readAll(t, ctx, c, esdb.ReadAllOptions{From: esdb.Start{}}, 100)); n != 0 {
		t.Errorf("abandoned appends wrote %d events", n)
	}
}
