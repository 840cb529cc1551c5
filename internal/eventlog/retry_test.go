package eventlog_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/eventstore"
	"github.com/accountd/accountd/internal/testenv"
)

// frame is one gRPC message, passed through undecoded.
type frame []byte

type frameCodec struct{}

func (frameCodec) Marshal(v any) ([]byte, error) { return *v.(*frame), nil }
func (frameCodec) Unmarshal(data []byte, v any) error {
	*v.(*frame) = append(frame(nil), data...)
	return nil
}
func (frameCodec) Name() string { return "proto" }

// faultyProxy forwards every call to an event store, except that it can
// lose the answer of the next append after the store has written it: what
// a client sees when the node dies, or loses leadership, between writing and
// answering.
type faultyProxy struct {
	backend *grpc.ClientConn
	addr    string
	// fault is what the next append's caller gets instead of the answer:
	// "" passes it, "unavailable" or "not-leader".
	fault    atomic.Value
	appends  atomic.Int32 // appends that reached the store
	swallows atomic.Int32 // answers lost
}

func startFaultyProxy(t *testing.T, backend string) *faultyProxy {
	t.Helper()
	conn, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultyProxy{backend: conn, addr: ln.Addr().String()}
	p.fault.Store("")
	srv := grpc.NewServer(grpc.ForceServerCodec(frameCodec{}), grpc.UnknownServiceHandler(p.forward))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); conn.Close() })
	return p
}

func (p *faultyProxy) forward(_ any, in grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(in)
	md, _ := metadata.FromIncomingContext(in.Context())
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(in.Context(), md))
	defer cancel()
	out, err := p.backend.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method, grpc.ForceCodec(frameCodec{}))
	if err != nil {
		return err
	}
	go func() {
		for {
			var f frame
			if in.RecvMsg(&f) != nil {
				_ = out.CloseSend()
				return
			}
			if out.SendMsg(&f) != nil {
				return
			}
		}
	}()
	isAppend := method == "/event_store.client.streams.Streams/Append"
	for {
		var f frame
		err := out.RecvMsg(&f)
		if errors.Is(err, io.EOF) {
			in.SetTrailer(out.Trailer())
			return nil
		}
		if err != nil {
			in.SetTrailer(out.Trailer())
			return err
		}
		if isAppend {
			p.appends.Add(1)
			switch fault := p.fault.Swap("").(string); fault {
			case "unavailable":
				p.swallows.Add(1)
				return status.Error(codes.Unavailable, "injected: the connection broke before the answer")
			case "not-leader":
				// EventStoreDB's answer from a follower: the client
				// reconnects to the named leader (here: the proxy again).
				p.swallows.Add(1)
				host, port, _ := net.SplitHostPort(p.addr)
				in.SetTrailer(metadata.Pairs("exception", "not-leader", "leader-endpoint-host", host, "leader-endpoint-port", port))
				return status.Error(codes.NotFound, "Leader info available")
			}
		}
		if err := in.SendMsg(&f); err != nil {
			return err
		}
	}
}

func clientFor(t *testing.T, url string) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// streamIDs reads a stream's event ids straight from the store.
func streamIDs(ctx context.Context, t *testing.T, c *esdb.Client, stream string) []uuid.UUID {
	t.Helper()
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var ids []uuid.UUID
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return ids
		}
		var esErr *esdb.Error
		if errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeResourceNotFound {
			return ids
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.Event.EventID)
	}
}

func renamed(name string) events.Payload {
	return events.UserRenamedV1{UserID: "u1", OldUsername: "old", NewUsername: name}
}

// An append written by the store whose answer was lost is sent again with
// the same event ids and expected revision; the store recognises it and
// answers as before, so the events are in the log once.
func TestAppendRetriedAfterALostAnswerIsWrittenOnce(t *testing.T) {
	store, direct := testenv.EventStore(t)
	proxy := startFaultyProxy(t, store.Addr())
	log := eventlog.New(clientFor(t, "esdb://"+proxy.addr+"?tls=false"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, fault := range []string{"unavailable", "not-leader"} {
		for _, tt := range []struct {
			name     string
			existing int // events in the stream before
			expected func(existing int) commands.Version
		}{
			{"new stream", 0, func(int) commands.Version { return commands.NoStream }},
			{"exact revision", 2, func(n int) commands.Version { return commands.Version(n - 1) }},
			{"any revision", 1, func(int) commands.Version { return commands.AnyVersion }},
		} {
			t.Run(fault+"/"+tt.name, func(t *testing.T) {
				stream := events.UserStream(uuid.NewString())
				for i := range tt.existing {
					if _, err := log.Append(ctx, stream, commands.AnyVersion, events.Metadata{}, renamed("before"+strconv.Itoa(i))); err != nil {
						t.Fatal(err)
					}
				}
				appendsBefore, swallowsBefore := proxy.appends.Load(), proxy.swallows.Load()
				proxy.fault.Store(fault)
				got, err := log.Append(ctx, stream, tt.expected(tt.existing), events.Metadata{}, renamed("a"), renamed("b"))
				if err != nil {
					t.Fatalf("append with a lost answer: %v", err)
				}
				if proxy.swallows.Load()-swallowsBefore != 1 || proxy.appends.Load()-appendsBefore != 2 {
					t.Fatalf("%d answers lost, %d appends sent; want the first lost and one retry", proxy.swallows.Load()-swallowsBefore, proxy.appends.Load()-appendsBefore)
				}
				ids := streamIDs(ctx, t, direct, stream)
				if len(ids) != tt.existing+2 {
					t.Fatalf("%d events in the stream, want %d: the retry wrote them again", len(ids), tt.existing+2)
				}
				if got.Revision != uint64(tt.existing+1) {
					t.Fatalf("revision %d, want %d (the original result)", got.Revision, tt.existing+1)
				}
			})
		}
	}
}

// The event store killed and started again on the same port and data
// during an append: the append goes through once the store is back.
func TestAppendRetriesWhileTheEventStoreRestarts(t *testing.T) {
	dir := t.TempDir()
	first, err := eventstore.Start(eventstore.Config{Listen: "127.0.0.1:0", DataDir: dir, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	addr := first.Addr()
	client := clientFor(t, first.URL())
	log := eventlog.New(client)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := events.UserStream(uuid.NewString())
	if _, err := log.Append(ctx, stream, commands.NoStream, events.Metadata{}, renamed("a")); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var second *eventstore.Server
	var restartErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(250 * time.Millisecond) // the first attempt meets a closed port
		second, restartErr = eventstore.Start(eventstore.Config{Listen: addr, DataDir: dir, Insecure: true})
	}()
	_, appendErr := log.Append(ctx, stream, 0, events.Metadata{}, renamed("b"))
	wg.Wait()
	if restartErr != nil {
		t.Fatal(restartErr)
	}
	defer second.Close()
	if appendErr != nil {
		t.Fatalf("append across a restart: %v", appendErr)
	}
	if ids := streamIDs(ctx, t, client, stream); len(ids) != 2 {
		t.Fatalf("%d events, want 2", len(ids))
	}
}
