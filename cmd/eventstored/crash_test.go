package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The test binary doubles as eventstored: with this variable set it runs the
// command instead of the tests, so crash tests kill a real separate process.
const childEnv = "EVENTSTORED_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type child struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	exited chan error
}

func startChild(t *testing.T, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--insecure-no-auth", "--listen", "127.0.0.1:0", "--data", dataDir)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "eventstored listening on "); ok {
				addr <- a
			}
		}
		close(addr)
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("eventstored exited before listening: %s", c.stderr)
		}
		c.addr = a
	case <-time.After(30 * time.Second):
		t.Fatalf("eventstored did not start: %s", c.stderr)
	}
	return c
}

func (c *child) client(t *testing.T) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString("esdb://" + c.addr + "?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.exited:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("eventstored did not exit")
		return nil
	}
}

type ack struct {
	stream   string
	revision uint64
	position uint64
}

// TestCrashLosesNoAcknowledgedEvent appends from many goroutines, SIGKILLs
// the server at a random moment, restarts it on the same data and checks the
// log: every acknowledged event exactly once, at its acknowledged position,
// in $all order, and nothing partial or foreign. Twenty rounds, one data dir.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts and kills 20 processes")
	}
	const rounds, writers = 20, 32
	dataDir := t.TempDir()
	acked := map[uuid.UUID]ack{}        // everything the server acknowledged
	attempted := map[uuid.UUID][]byte{} // everything ever sent, with its payload
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))

	for round := range rounds {
		srv := startChild(t, dataDir)
		client := srv.client(t)
		verifyLog(t, round, client, acked, attempted)
		client.Close()
		// The writers speak the protocol through the generated gRPC client:
		// the official client has a data race of its own when a server dies
		// under an append (it reads the call's trailers while gRPC writes
		// them), which -race reports.
		conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		raw := streams.NewStreamsClient(conn)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream := fmt.Sprintf("crash-%d", w)
				for ctx.Err() == nil {
					id := uuid.New()
					payload := fmt.Appendf(nil, `{"round":%d,"writer":%d,"id":%q,"pad":%q}`, round, w, id, strings.Repeat("x", rng2(id)))
					mu.Lock()
					attempted[id] = payload
					mu.Unlock()
					revision, position, err := rawAppend(ctx, raw, stream, id, payload)
					if err != nil {
						return // the server is gone; this append may or may not be durable
					}
					mu.Lock()
					acked[id] = ack{stream: stream, revision: revision, position: position}
					mu.Unlock()
				}
			}()
		}
		// Each round exercises the store however loaded the machine is: the
		// kill comes at a random moment after the round's first acks.
		for start, deadline := ackedCount(&mu, acked), time.Now().Add(30*time.Second); ; {
			if ackedCount(&mu, acked)-start >= writers || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = srv.wait(t)
		cancel()
		wg.Wait()
		conn.Close()
	}
	srv := startChild(t, dataDir)
	client := srv.client(t)
	defer client.Close()
	verifyLog(t, rounds, client, acked, attempted)
	if len(acked) < rounds*writers {
		t.Fatalf("only %d appends were acknowledged in %d rounds; the test did not exercise the store", len(acked), rounds)
	}
	t.Logf("%d acknowledged appends survived %d kills", len(acked), rounds)
}

// ackedCount is how many appends were acknowledged, read under the
// writers' lock.
func ackedCount(mu *sync.Mutex, acked map[uuid.UUID]ack) int {
	mu.Lock()
	defer mu.Unlock()
	return len(acked)
}

// rawAppend appends one event expecting any revision and returns its
// revision and position once the server acknowledges it.
func rawAppend(ctx context.Context, c streams.StreamsClient, stream string, id uuid.UUID, data []byte) (uint64, uint64, error) {
	call, err := c.Append(ctx)
	if err != nil {
		return 0, 0, err
	}
	err = call.Send(&streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte(stream)},
		ExpectedStreamRevision: &streams.AppendReq_Options_Any{Any: &shared.Empty{}},
	}}})
	if err != nil {
		return 0, 0, err
	}
	err = call.Send(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: &streams.AppendReq_ProposedMessage{
		Id:       &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}},
		Metadata: map[string]string{"type": "crash.tested", "content-type": "application/json"},
		Data:     data,
	}}})
	if err != nil {
		return 0, 0, err
	}
	res, err := call.CloseAndRecv()
	if err != nil {
		return 0, 0, err
	}
	ok := res.GetSuccess()
	if ok == nil || ok.GetPosition() == nil {
		return 0, 0, fmt.Errorf("append not acknowledged: %v", res)
	}
	return ok.GetCurrentRevision(), ok.GetPosition().GetCommitPosition(), nil
}

// rng2 varies payload sizes so that torn writes would show up as bad JSON.
func rng2(id uuid.UUID) int { return int(id[0]) * 8 }

func verifyLog(t *testing.T, round int, client *esdb.Client, acked map[uuid.UUID]ack, attempted map[uuid.UUID][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := client.ReadAll(ctx, esdb.ReadAllOptions{From: esdb.Start{}}, 1<<62)
	if err != nil {
		t.Fatalf("round %d: read $all: %v", round, err)
	}
	defer rs.Close()
	seen := map[uuid.UUID]bool{}
	nextRevision := map[string]uint64{}
	var lastPos uint64
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("round %d: read $all: %v", round, err)
		}
		e := ev.Event
		if e.Position.Commit <= lastPos {
			t.Fatalf("round %d: $all out of order: %d after %d", round, e.Position.Commit, lastPos)
		}
		lastPos = e.Position.Commit
		if seen[e.EventID] {
			t.Fatalf("round %d: event %s appears twice", round, e.EventID)
		}
		seen[e.EventID] = true
		payload, ok := attempted[e.EventID]
		if !ok {
			t.Fatalf("round %d: event %s in %s was never sent", round, e.EventID, e.StreamID)
		}
		if !bytes.Equal(payload, e.Data) {
			t.Fatalf("round %d: event %s is damaged: %q", round, e.EventID, e.Data)
		}
		if e.EventNumber != nextRevision[e.StreamID] {
			t.Fatalf("round %d: %s has revision %d, want %d", round, e.StreamID, e.EventNumber, nextRevision[e.StreamID])
		}
		nextRevision[e.StreamID]++
		if a, ok := acked[e.EventID]; ok && (a.position != e.Position.Commit || a.revision != e.EventNumber || a.stream != e.StreamID) {
			t.Fatalf("round %d: event %s acknowledged as %+v, stored at %s@%d pos %d", round, e.EventID, a, e.StreamID, e.EventNumber, e.Position.Commit)
		}
	}
	for id, a := range acked {
		if !seen[id] {
			t.Fatalf("round %d: acknowledged event %s (%+v) is lost", round, id, a)
		}
	}
}

// TestSignalsStopCleanly: SIGINT and SIGTERM end the process with status 0
// and the data is intact on the next start.
func TestSignalsStopCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dataDir := t.TempDir()
			srv := startChild(t, dataDir)
			client := srv.client(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := client.AppendToStream(ctx, "signal-test", esdb.AppendToStreamOptions{},
				esdb.EventData{EventType: "signal.tested", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			// A live subscription must not keep the server from stopping.
			sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := srv.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := srv.wait(t); err != nil {
				t.Fatalf("exit after %s: %v; stderr: %s", sig, err, srv.stderr)
			}
			client.Close()

			again := startChild(t, dataDir)
			client = again.client(t)
			defer client.Close()
			rs, err := client.ReadStream(ctx, "signal-test", esdb.ReadStreamOptions{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			if _, err := rs.Recv(); err != nil {
				t.Fatalf("event lost after %s: %v", sig, err)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown flag", []string{"--nope"}, 2},
		{"stray argument", []string{"--insecure-no-auth", "extra"}, 2},
		{"help", []string{"--help"}, 0},
		{"neither users nor insecure: never open by default", []string{"--data", "DATA"}, 2},
		{"both users and insecure", []string{"--insecure-no-auth", "--users", "USERS", "--data", "DATA"}, 2},
		{"missing users file", []string{"--users", "/nonexistent/users", "--data", "DATA"}, 2},
		{"certificate without key", []string{"--users", "USERS", "--tls-cert", "x.pem", "--data", "DATA"}, 2},
		{"unusable listen address", []string{"--insecure-no-auth", "--listen", "not-an-address", "--data", "DATA"}, 1},
		{"insecure on every interface", []string{"--insecure-no-auth", "--listen", ":0", "--data", "DATA"}, 2},
		{"insecure on a public address", []string{"--insecure-no-auth", "--listen", "192.0.2.1:0", "--data", "DATA"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			for i, a := range args {
				switch a {
				case "DATA":
					args[i] = t.TempDir()
				case "USERS":
					args[i] = filepath.Join(t.TempDir(), "users")
					if err := os.WriteFile(args[i], []byte("ops:s3cret\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), childEnv+"=1")
			out, _ := cmd.CombinedOutput()
			if got := cmd.ProcessState.ExitCode(); got != tt.want {
				t.Fatalf("exit code %d, want %d; output: %s", got, tt.want, out)
			}
			if tt.want != 0 && len(out) == 0 {
				t.Fatal("failed without saying why")
			}
		})
	}
}
