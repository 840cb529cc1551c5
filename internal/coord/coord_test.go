package coord_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/internal/coord"
)

// server starts a NATS server with JetStream and returns a function that
// connects a new client to it (one per simulated replica).
func server(t *testing.T) func() jetstream.JetStream {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Username: "u", Password: "p-test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	return func() jetstream.JetStream {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("u", "p-test-secret"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
}

func TestLimiterCountsOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	connect := server(t)
	ctx := t.Context()
	var limiters []*coord.Limiter
	for range 3 {
		l, err := coord.New(connect(), coord.Options{}).Limiter(ctx, "registration", 20, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		limiters = append(limiters, l)
	}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, wait, err := limiters[i%3].Allow(ctx, "127.0.0.9")
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				allowed.Add(1)
			} else if wait <= 0 {
				t.Errorf("refused without a wait")
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 20 {
		t.Fatalf("%d of 60 allowed across 3 replicas, want exactly 20", got)
	}
	// Another key has its own bucket.
	if ok, _, _ := limiters[0].Allow(ctx, "127.0.0.10"); !ok {
		t.Fatal("another key refused")
	}
}

func TestLimiterCheckTakeGive(t *testing.T) {
	t.Parallel()
	connect := server(t)
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l, err := coord.New(connect(), coord.Options{}).Limiter(ctx, "failures", 2, 20*time.Second, clock)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		do       func() error
		wantOK   bool
		wantWait time.Duration
	}{
		{"fresh key passes", nil, true, 0},
		{"one failure", func() error { return l.Take(ctx, "k") }, true, 0},
		{"two failures exhaust it", func() error { return l.Take(ctx, "k") }, false, 20 * time.Second},
		{"a third pushes the wait out", func() error { return l.Take(ctx, "k") }, false, 40 * time.Second},
		{"a token given back shortens it", func() error { return l.Give(ctx, "k") }, false, 20 * time.Second},
		{"time refills", func() error { advance(20 * time.Second); return nil }, true, 0},
	}
	for _, s := range steps {
		if s.do != nil {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		ok, wait, err := l.Check(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if ok != s.wantOK || wait != s.wantWait {
			t.Fatalf("%s: check = %v, %s; want %v, %s", s.name, ok, wait, s.wantOK, s.wantWait)
		}
	}
	// A storm never locks a key for longer than a full debt.
	for range 50 {
		if err := l.Take(ctx, "storm"); err != nil {
			t.Fatal(err)
		}
	}
	if _, wait, _ := l.Check(ctx, "storm"); wait != 60*time.Second {
		t.Fatalf("after a storm the wait is %s, want the bounded 60s", wait)
	}
}

func TestLimiterRefusesBadRates(t *testing.T) {
	t.Parallel()
	c := coord.New(server(t)(), coord.Options{})
	for _, tc := range []struct {
		name  string
		limit string
		burst int
		every time.Duration
	}{
		{"no burst", "a", 0, time.Second},
		{"no interval", "a", 1, 0},
		{"bad name", "a b", 1, time.Second},
	} {
		if _, err := c.Limiter(t.Context(), tc.limit, tc.burst, tc.every, nil); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func aead(t *testing.T) cipher.AEAD {
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestStoreTakesOnceAndSeals(t *testing.T) {
	t.Parallel()
	connect := server(t)
	ctx := t.Context()
	var stores []*coord.Store
	for range 3 {
		s, err := coord.New(connect(), coord.Options{}).Store(ctx, "flash", time.Minute, aead(t))
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	const secret = "acp_thesecretvalueshownonce"
	if err := stores[0].Put(ctx, "session-1", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := stores[1].Get(ctx, "session-1"); err != nil || !ok || string(v) != secret {
		t.Fatalf("get on another replica: %q %v %v", v, ok, err)
	}
	var got atomic.Int32
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, ok, err := stores[i%3].Take(ctx, "session-1")
			if err != nil {
				t.Error(err)
			}
			if ok {
				got.Add(1)
				if string(v) != secret {
					t.Errorf("took %q", v)
				}
			}
		}()
	}
	wg.Wait()
	if got.Load() != 1 {
		t.Fatalf("taken %d times, want once", got.Load())
	}
	if _, ok, _ := stores[2].Get(ctx, "session-1"); ok {
		t.Fatal("still there after it was taken")
	}

	// What NATS holds is sealed and names neither the key nor the value.
	if err := stores[0].Put(ctx, "session-2", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	kv, err := connect().KeyValue(ctx, "accountd_store_flash")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "session") {
			t.Fatalf("key %q shows what it is for", k)
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(e.Value()), "secret") {
			t.Fatal("a value is in clear in NATS")
		}
		// Moved to another key, it does not open.
		if _, err := kv.Put(ctx, coord.Key("session-3"), e.Value()); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := stores[0].Get(ctx, "session-3"); ok {
		t.Fatal("a value copied to another key opened")
	}
}

func TestStoreClaimsOnce(t *testing.T) {
	t.Parallel()
	connect := server(t)
	ctx := t.Context()
	var claimed atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		s, err := coord.New(connect(), coord.Options{}).Store(ctx, "mail", time.Minute, aead(t))
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.Claim(ctx, "mail-42", string(rune('a'+i)))
				if err != nil {
					t.Error(err)
				}
				if ok {
					claimed.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if claimed.Load() != 1 {
		t.Fatalf("claimed %d times, want once", claimed.Load())
	}
}

func TestStoreValuesExpire(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := coord.New(server(t)(), coord.Options{}).Store(ctx, "short", time.Second, aead(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the value never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// One holder at a time; a graceful stop hands over at once; a holder that
// can no longer renew stops its work before another starts.
func TestLeaseOneHolderAtATime(t *testing.T) {
	t.Parallel()
	connect := server(t)
	const ttl = 1500 * time.Millisecond
	var running atomic.Int32
	var maxRunning atomic.Int32
	started := make(chan string, 10)
	work := func(name string) func(context.Context, uint64) error {
		return func(ctx context.Context, fence uint64) error {
			n := running.Add(1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			started <- name
			<-ctx.Done()
			running.Add(-1)
			return nil
		}
	}
	ctxA, stopA := context.WithCancel(t.Context())
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	a := &coord.Lease{Coord: coord.New(connect(), coord.Options{LeaseTTL: ttl}), Name: "relay", Holder: "a"}
	b := &coord.Lease{Coord: coord.New(connect(), coord.Options{LeaseTTL: ttl}), Name: "relay", Holder: "b"}
	go func() { doneA <- a.Run(ctxA, work("a")) }()
	if got := <-started; got != "a" {
		t.Fatalf("%s started first", got)
	}
	go func() { doneB <- b.Run(ctxB, work("b")) }()
	select {
	case got := <-started:
		t.Fatalf("%s started while a holds the lease", got)
	case <-time.After(2 * ttl):
	}
	// A graceful stop releases the lease (not left to expire): once a's
	// Run returns, the lease is nobody's or already b's, and b takes it.
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if holder, err := a.Coord.Holder(t.Context(), "relay"); err != nil || (holder != "" && holder != "b") {
		t.Fatalf("after a's graceful stop the lease is %q's (%v)", holder, err)
	}
	select {
	case got := <-started:
		if got != "b" {
			t.Fatalf("%s started", got)
		}
	case <-time.After(5 * ttl):
		t.Fatal("b never took over")
	}
	if maxRunning.Load() != 1 {
		t.Fatalf("%d holders ran at once", maxRunning.Load())
	}
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
}

func TestLeaseLostStopsWork(t *testing.T) {
	t.Parallel()
	connect := server(t)
	const ttl = 1500 * time.Millisecond
	js := connect()
	lost := make(chan struct{})
	fences := make(chan uint64, 2)
	l := &coord.Lease{Coord: coord.New(js, coord.Options{LeaseTTL: ttl}), Name: "job", Holder: "a"}
	go func() {
		_ = l.Run(t.Context(), func(ctx context.Context, fence uint64) error {
			fences <- fence
			<-ctx.Done()
			select {
			case <-lost:
			default:
				close(lost)
			}
			return nil
		})
	}()
	first := <-fences
	// Another holder overwrites the lease (as after an expiry): the old
	// holder's work must end within a renewal interval.
	kv, err := connect().KeyValue(t.Context(), "accountd_leases")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), "job")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Update(t.Context(), "job", []byte("z"), e.Revision()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(2 * ttl):
		t.Fatal("work went on after the lease was lost")
	}
	// Once z's lease expires, a takes it again with a higher fence.
	select {
	case f := <-fences:
		if f <= first {
			t.Fatalf("fence %d after %d", f, first)
		}
	case <-time.After(10 * ttl):
		t.Fatal("the lease was never taken again")
	}
}

func TestLeaseRefusesBadConfig(t *testing.T) {
	t.Parallel()
	l := &coord.Lease{Name: "has space", Holder: ""}
	err := l.Run(t.Context(), func(context.Context, uint64) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "holder") || !strings.Contains(err.Error(), "name") {
		t.Fatalf("got %v", err)
	}

}

// A lease tried while another holds it is refused at once; once released,
// it is taken.
func TestTryRunRefusesAHeldLease(t *testing.T) {
	t.Parallel()
	connect := server(t)
	ctx := t.Context()
	holding, release := make(chan struct{}), make(chan struct{})
	first := &coord.Lease{Coord: coord.New(connect(), coord.Options{}), Name: "rebuild-users", Holder: "a"}
	done := make(chan error, 1)
	go func() {
		done <- first.TryRun(ctx, func(context.Context, uint64) error { close(holding); <-release; return nil })
	}()
	<-holding
	second := &coord.Lease{Coord: coord.New(connect(), coord.Options{}), Name: "rebuild-users", Holder: "b"}
	ran := false
	if err := second.TryRun(ctx, func(context.Context, uint64) error { ran = true; return nil }); err != coord.ErrHeld || ran {
		t.Fatalf("second try while held: %v (ran %v), want ErrHeld", err, ran)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := second.TryRun(ctx, func(context.Context, uint64) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("try after release: %v (ran %v)", err, ran)
	}
}
