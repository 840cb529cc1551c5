package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/eventstore"
	"github.com/accountd/accountd/internal/eventstore/storage"
	"github.com/accountd/accountd/internal/keyring"
)

const benchEventType = "bench-event"

// benchStore is the embedded event store and how to sign in to it.
type benchStore struct {
	*eventstore.Server
	url string
}

// startESDB runs the embedded event store on a free loopback port as the
// service runs it: TLS with a generated certificate, and credentials.
func startESDB(dir string) (*benchStore, error) {
	files, err := keyring.EnsureTLS(filepath.Join(dir, "tls"), nil)
	if err != nil {
		return nil, err
	}
	password, err := keyring.Random(24)
	if err != nil {
		return nil, err
	}
	srv, err := eventstore.Start(eventstore.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "log"),
		Users: map[string]string{"bench": password}, TLSCertFile: files.Cert, TLSKeyFile: files.Key, CAFile: files.CA})
	if err != nil {
		return nil, err
	}
	return &benchStore{Server: srv, url: srv.URLFor("bench", password)}, nil
}

// newESDBClient connects the official client the way the service does.
func newESDBClient(srv *benchStore) (*esdb.Client, error) {
	cfg, err := esdb.ParseConnectionString(srv.url)
	if err != nil {
		return nil, err
	}
	cfg.Logger = esdb.NoopLogging()
	return esdb.NewClient(cfg)
}

// esdbAppender appends one binary event of payload to stream per call,
// expecting any revision.
func esdbAppender(client *esdb.Client, stream string, payload []byte) appendFunc {
	opts := esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}
	return func(ctx context.Context) error {
		_, err := client.AppendToStream(ctx, stream, opts, esdb.EventData{
			EventID:     uuid.New(),
			EventType:   benchEventType,
			ContentType: esdb.ContentTypeBinary,
			Data:        payload,
		})
		return err
	}
}

// storeAppender appends through the storage API in-process, bypassing gRPC
// and the client: the floor the server could reach.
func storeAppender(store *storage.Store, stream string, payload []byte) appendFunc {
	return func(ctx context.Context) error {
		_, err := store.Append(ctx, stream, storage.Expected{Kind: storage.ExpectAny}, []storage.ProposedEvent{{
			ID:          uuid.New(),
			Type:        benchEventType,
			ContentType: "application/octet-stream",
			Data:        payload,
		}})
		return err
	}
}

// esdbMode selects how the append workload reaches the store.
type esdbMode int

const (
	esdbSharedClient esdbMode = iota // one client for all writers, as the service runs
	esdbClientPerWriter
	esdbInProcess // storage.Store.Append directly, no gRPC
)

// benchESDBAppends runs the append workload at each concurrency level
// against one fresh server in dir.
func benchESDBAppends(ctx context.Context, cfg config, dir string, mode esdbMode) ([]levelResult, error) {
	srv, err := startESDB(dir)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	var clients []*esdb.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	connect := func() (*esdb.Client, error) {
		c, err := newESDBClient(srv)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		return c, nil
	}
	var shared *esdb.Client
	if mode == esdbSharedClient {
		if shared, err = connect(); err != nil {
			return nil, err
		}
	}
	payload := makePayload(cfg.payload)
	var out []levelResult
	for _, writers := range cfg.writers {
		settle(3 * time.Second)
		res, err := runLevel(ctx, writers, cfg.warmup, cfg.duration, func(i int) (appendFunc, error) {
			stream := fmt.Sprintf("bench-w%d-%d", writers, i)
			switch mode {
			case esdbInProcess:
				return storeAppender(srv.Store(), stream, payload), nil
			case esdbClientPerWriter:
				c, err := connect()
				if err != nil {
					return nil, err
				}
				return esdbAppender(c, stream, payload), nil
			default:
				return esdbAppender(shared, stream, payload), nil
			}
		})
		if err != nil {
			return out, err
		}
		out = append(out, res)
		// Per-writer clients of this level are not reused by the next one.
		if mode == esdbClientPerWriter {
			for _, c := range clients {
				c.Close()
			}
			clients = nil
		}
	}
	return out, nil
}

// readResult is one timed pass over $all.
type readResult struct {
	Name    string
	Events  int
	Elapsed time.Duration
	CPU     time.Duration // process CPU time (client and server)
	Err     error
}

// CPUPerEvent is the process CPU time per event.
func (r readResult) CPUPerEvent() time.Duration {
	if r.Events == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Events)
}

func (r readResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// catchUpResult holds the $all read figures.
type catchUpResult struct {
	Preload readResult // how fast the events were written (batched)
	Reads   []readResult
}

// preloadStreams is how many streams the catch-up events are spread over.
const preloadStreams = 1000

// preload writes n events in batches straight into the store, from a few
// goroutines so that group commit batches them further.
func preload(ctx context.Context, store *storage.Store, n, batch int, payload []byte) error {
	const workers = 4
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			events := make([]storage.ProposedEvent, 0, batch)
			for {
				first := int(next.Add(int64(batch))) - batch
				if first >= n || ctx.Err() != nil {
					return
				}
				events = events[:0]
				for range min(batch, n-first) {
					events = append(events, storage.ProposedEvent{
						ID: uuid.New(), Type: benchEventType, ContentType: "application/octet-stream", Data: payload,
					})
				}
				stream := fmt.Sprintf("catchup-%d", (first/batch)%preloadStreams)
				if _, err := store.Append(ctx, stream, storage.Expected{Kind: storage.ExpectAny}, events); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// benchCatchUp writes cfg.events events to a fresh store, then times reading
// all of them back: in-process (also warms caches), SubscribeToAll from the
// start until CaughtUp, and ReadAll forwards.
func benchCatchUp(ctx context.Context, cfg config, dir string) (catchUpResult, error) {
	var out catchUpResult
	srv, err := startESDB(dir)
	if err != nil {
		return out, err
	}
	defer srv.Close()
	payload := makePayload(cfg.payload)

	out.Preload = timedRead("preload (500-event appends, in-process)", func() (int, error) {
		return cfg.events, preload(ctx, srv.Store(), cfg.events, 500, payload)
	})
	if out.Preload.Err != nil {
		return out, fmt.Errorf("preload: %w", out.Preload.Err)
	}

	client, err := newESDBClient(srv)
	if err != nil {
		return out, err
	}
	defer client.Close()

	// Let flushes and compactions of the preload finish first.
	settle(10 * time.Second)
	out.Reads = append(out.Reads,
		timedRead("storage ReadAll (in-process, no gRPC)", func() (int, error) { return storeReadAll(srv.Store()) }),
		timedRead("SubscribeToAll from Start until CaughtUp", func() (int, error) { return subscribeAllCount(ctx, client) }),
		timedRead("ReadAll forwards from Start", func() (int, error) { return readAllCount(ctx, client) }),
	)
	for i := range out.Reads {
		r := &out.Reads[i]
		if r.Err == nil && r.Events != cfg.events {
			r.Err = fmt.Errorf("read %d events, expected %d", r.Events, cfg.events)
		}
	}
	return out, nil
}

func timedRead(name string, read func() (int, error)) readResult {
	cpu0, t0 := benchkit.ProcessCPU(), time.Now()
	n, err := read()
	return readResult{Name: name, Events: n, Elapsed: time.Since(t0), CPU: benchkit.ProcessCPU() - cpu0, Err: err}
}

func storeReadAll(store *storage.Store) (int, error) {
	n := 0
	next := uint64(1)
	for {
		events, err := store.ReadAll(next, false, 512)
		if err != nil {
			return n, err
		}
		n += len(events)
		if len(events) < 512 {
			return n, nil
		}
		next = events[len(events)-1].Position + 1
	}
}

// subscribeAllCount counts events a catch-up subscription to $all delivers
// before it reports CaughtUp.
func subscribeAllCount(ctx context.Context, client *esdb.Client) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	n := 0
	for {
		e := sub.Recv()
		switch {
		case e.EventAppeared != nil:
			n++
		case e.CaughtUp != nil:
			return n, nil
		case e.SubscriptionDropped != nil:
			return n, e.SubscriptionDropped.Error
		}
	}
}

// readAllCount counts the events of a forwards ReadAll of everything.
func readAllCount(ctx context.Context, client *esdb.Client) (int, error) {
	rs, err := client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: esdb.Start{}}, math.MaxInt64)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	n := 0
	for {
		_, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func makePayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}
