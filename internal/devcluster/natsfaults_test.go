package devcluster_test

// NATS-node and relay faults of issue 18, on one cluster of three
// replicas: the feed stream's copies, a NATS node leading the feed killed,
// the relay leader killed and stopped past its lease. Each fault ends with
// the feed equal to the log ($all: no gap, no duplicate, same order).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/devcluster"
	"github.com/accountd/accountd/internal/relay"
)

func TestNATSAndRelayFaults(t *testing.T) {
	buildFirst(t)
	started := time.Now()
	// A guard against hangs, not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := startCluster(t, ctx, devcluster.Options{Replicas: 3, ReplicaArgs: loadReplicaArgs, Keep: os.Getenv("DEVCLUSTER_KEEP") != ""})
	t.Logf("cluster of 3 replicas started in %s (%s)", time.Since(started).Round(time.Millisecond), c.Dir())
	js := jetStreamOf(t, c)
	es := eventStoreOf(t, c)
	proxy := func() string { return c.ProxyURL() }

	t.Run("the feed stream keeps 3 copies, raised in place from 1 by replicas starting at once", func(t *testing.T) {
		if got := feedInfo(t, ctx, js).Config.Replicas; got != 3 {
			t.Fatalf("feed stream created with %d copies on a 3-node NATS", got)
		}
		l := startLoad(t, ctx, 2, proxy)
		feedMovesOn(t, ctx, js)
		l.stop()
		stopAll(t, ctx, c)
		// As every replica before this change left it.
		cfg := feedInfo(t, ctx, js).Config
		cfg.Replicas = 1
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatalf("lower the feed to one copy: %v", err)
		}
		before := feedInfo(t, ctx, js).State
		marks := logMarks(c)
		startAll(t, ctx, c)
		after := feedInfo(t, ctx, js)
		t.Logf("feed with one copy %+v; after the replicas started: %d copies, %+v", before, after.Config.Replicas, after.State)
		if after.Config.Replicas != 3 {
			t.Fatalf("after 3 replicas started: %d copies", after.Config.Replicas)
		}
		if after.State.FirstSeq != before.FirstSeq || after.State.LastSeq < before.LastSeq {
			t.Fatalf("messages lost raising the copies: %+v, then %+v", before, after.State)
		}
		for i := range c.Replicas() {
			if lines := logSince(t, c, i, marks[i], "event feed"); len(lines) > 0 {
				t.Errorf("%s could not raise the copies: %s", c.Replica(i).Name(), lines)
			}
		}
		// The new copies catch up, and the feed is the log.
		eventually(t, ctx, func() error {
			info, err := feedStream(ctx, js)
			if err != nil {
				return err
			}
			if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
				return fmt.Errorf("feed cluster %+v", info.Cluster)
			}
			for _, r := range info.Cluster.Replicas {
				if !r.Current {
					return fmt.Errorf("copy on %s not current", r.Name)
				}
			}
			return nil
		})
		feedEqualsLog(t, ctx, js, es)
	})

	t.Run("accountctl verify all answers on clustered NATS, and keeps the buckets' copies", func(t *testing.T) {
		l := startLoad(t, ctx, 2, proxy)
		pause(ctx, 2*time.Second)
		l.stop()
		// Once, not retried: "no responders" failed about one run in six
		// (a build's new consumer pulled before its leader was known).
		for range 2 {
			verifyOnce(t, ctx, c)
		}
		// accountctl opened its buckets with one copy, which took the
		// service's copies away.
		rebuild := exec.CommandContext(ctx, c.Binary("accountctl"), "--data", t.TempDir(), "rebuild", "usernames")
		rebuild.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, c.Env()...)
		if out, err := rebuild.CombinedOutput(); err != nil {
			t.Fatalf("accountctl rebuild usernames: %v\n%s", err, out)
		}
		for name := range js.StreamNames(ctx).Name() {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.CachedInfo().Config.Replicas; got != 3 {
				t.Errorf("stream %s: %d copies", name, got)
			}
		}
	})

	t.Run("kill -9 the NATS node leading the feed stream under load", func(t *testing.T) {
		marks := logMarks(c)
		l := startLoad(t, ctx, 3, proxy)
		feedMovesOn(t, ctx, js)
		node := natsNode(t, c, feedInfo(t, ctx, js).Cluster.Leader)
		t.Logf("killing %s, the feed's leader", node.Name())
		if err := node.Kill(); err != nil {
			t.Fatal(err)
		}
		eventually(t, ctx, func() error {
			info, err := feedStream(ctx, js)
			if err != nil {
				return err
			}
			if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == node.Name() {
				return fmt.Errorf("feed leader %+v", info.Cluster)
			}
			return nil
		})
		// The feed moves on with the other two.
		last := feedInfo(t, ctx, js).State.LastSeq
		eventually(t, ctx, func() error {
			if info, err := feedStream(ctx, js); err != nil || info.State.LastSeq <= last+20 {
				return fmt.Errorf("feed not moving on: %v", err)
			}
			return nil
		})
		if err := node.Start(ctx); err != nil {
			t.Fatalf("%s back: %v", node.Name(), err)
		}
		pause(ctx, 2*time.Second)
		l.stop()
		t.Logf("load: %s", l.Report())
		if n := l.Total(kindStale); n != 0 {
			t.Errorf("%d stale reads", n)
		}
		feedEqualsLog(t, ctx, js, es)
		l.checkAcknowledged(t, ctx, runningReplicas(c))
		// A pull that found no consumer leader (its node died, the next
		// one not yet elected) restarted every projector on every replica.
		for i := range c.Replicas() {
			for _, line := range logSince(t, c, i, marks[i], "component failed") {
				if strings.Contains(line, "projector") && (strings.Contains(line, "no responders") || strings.Contains(line, "no heartbeat")) {
					t.Errorf("%s: %s", c.Replica(i).Name(), line)
				}
			}
		}
		verifyAll(t, ctx, c)
	})

	t.Run("the relay leader killed with -9: a standby takes over, nothing lost or duplicated", func(t *testing.T) {
		l := startLoad(t, ctx, 3, proxy)
		leader := relayHolder(t, ctx, c, -1)
		pause(ctx, time.Second)
		t.Logf("killing %s, the relay leader", c.Replica(leader).Name())
		if err := c.Replica(leader).Kill(); err != nil {
			t.Fatal(err)
		}
		next := relayHolder(t, ctx, c, leader)
		t.Logf("%s took over", c.Replica(next).Name())
		feedMovesOn(t, ctx, js)
		l.stop()
		t.Logf("load: %s", l.Report())
		if n := l.Total(kindStale); n != 0 {
			t.Errorf("%d stale reads", n)
		}
		feedEqualsLog(t, ctx, js, es)
		if err := c.Replica(leader).Start(ctx); err != nil {
			t.Fatalf("%s back: %v", c.Replica(leader).Name(), err)
		}
		l.checkAcknowledged(t, ctx, runningReplicas(c))
	})

	t.Run("the relay leader stopped past its lease, then resumed: its publishes are refused", func(t *testing.T) {
		l := startLoad(t, ctx, 3, proxy)
		zombie := relayHolder(t, ctx, c, -1)
		marks := logMarks(c)
		pause(ctx, time.Second)
		t.Logf("stopping %s, the relay leader (SIGSTOP)", c.Replica(zombie).Name())
		if err := c.Replica(zombie).Pause(); err != nil {
			t.Fatal(err)
		}
		next := relayHolder(t, ctx, c, zombie)
		t.Logf("%s took over", c.Replica(next).Name())
		feedMovesOn(t, ctx, js)
		if err := c.Replica(zombie).Resume(); err != nil {
			t.Fatal(err)
		}
		// The zombie notices: a refused publish, or its lease lost.
		var refused, lost []string
		eventually(t, ctx, func() error {
			refused = logSince(t, c, zombie, marks[zombie], "another relay published first")
			lost = nil
			for _, line := range logSince(t, c, zombie, marks[zombie], "lease lost") {
				if strings.Contains(line, `"lease":"relay"`) {
					lost = append(lost, line)
				}
			}
			if len(refused)+len(lost) == 0 {
				return errors.New("the zombie has not stepped down")
			}
			return nil
		})
		feedMovesOn(t, ctx, js)
		l.stop()
		t.Logf("load: %s", l.Report())
		t.Logf("the zombie's publishes refused: %d; its leases lost: %d", len(refused), len(lost))
		if h := relayHolder(t, ctx, c, -1); h == zombie {
			t.Fatal("the zombie holds the relay again")
		}
		for i := range c.Replicas() {
			if i == zombie {
				continue
			}
			if lines := logSince(t, c, i, marks[i], "another relay published first"); len(lines) > 0 {
				t.Errorf("%s, the new leader, was refused: %s", c.Replica(i).Name(), lines)
			}
		}
		if n := l.Total(kindStale); n != 0 {
			t.Errorf("%d stale reads", n)
		}
		feedEqualsLog(t, ctx, js, es)
		l.checkAcknowledged(t, ctx, runningReplicas(c))
		verifyAll(t, ctx, c)
	})
	t.Logf("done %s after the start", time.Since(started).Round(time.Millisecond))
}

func jetStreamOf(t *testing.T, c *devcluster.Cluster) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.NATSURL(), nats.MaxReconnects(-1))
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

func eventStoreOf(t *testing.T, c *devcluster.Cluster) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(c.EventStoreURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// feedStream is the feed stream's state. Each request has its own bound: a
// request a dying node took is never answered, and would otherwise wait
// for the whole test's context.
func feedStream(ctx context.Context, js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, app.FeedStream)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// feedInfo is the feed stream's state, once JetStream answers.
func feedInfo(t *testing.T, ctx context.Context, js jetstream.JetStream) *jetstream.StreamInfo {
	t.Helper()
	var info *jetstream.StreamInfo
	eventually(t, ctx, func() error {
		var err error
		info, err = feedStream(ctx, js)
		if err == nil && (info.Cluster == nil || info.Cluster.Leader == "") {
			err = errors.New("feed stream without a leader")
		}
		return err
	})
	return info
}

// feedMovesOn waits until the feed has taken more messages.
func feedMovesOn(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	last := feedInfo(t, ctx, js).State.LastSeq
	eventually(t, ctx, func() error {
		if info, err := feedStream(ctx, js); err != nil || info.State.LastSeq <= last+10 {
			return fmt.Errorf("the feed does not move on from %d: %v", last, err)
		}
		return nil
	})
}

// feedEqualsLog waits until the feed has caught up with the log, and
// fails at once where the two differ: the feed must be $all without its
// system events, in order, each event once (its id in Nats-Msg-Id, its
// position in the position header).
func feedEqualsLog(t *testing.T, ctx context.Context, js jetstream.JetStream, es *esdb.Client) {
	t.Helper()
	var events int
	eventually(t, ctx, func() error {
		want, err := logEvents(ctx, es)
		if err != nil {
			return err
		}
		got, err := feedEvents(ctx, js)
		if err != nil {
			return err
		}
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("feed message %d is %s, the log's event %d is %s (feed %d, log %d events)", i+1, got[i], i+1, want[i], len(got), len(want))
			}
		}
		if len(got) > len(want) {
			t.Fatalf("the feed has %d messages, the log %d events: %v more", len(got), len(want), got[len(want):])
		}
		if len(got) < len(want) {
			return fmt.Errorf("the feed has %d of the log's %d events", len(got), len(want))
		}
		events = len(got)
		return nil
	})
	t.Logf("the feed equals the log: %d events", events)
}

// logEvents are $all's events the relay forwards: "id@position".
func logEvents(ctx context.Context, es *esdb.Client) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rs, err := es.ReadAll(ctx, esdb.ReadAllOptions{From: esdb.Start{}, Direction: esdb.Forwards}, 1<<40)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		e := ev.Event
		if e == nil || strings.HasPrefix(e.EventType, "$") {
			continue
		}
		out = append(out, e.EventID.String()+"@"+strconv.FormatUint(e.Position.Commit, 10))
	}
}

// feedEvents are the feed's messages in stream order: "id@position".
func feedEvents(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := feedStream(ctx, js)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	if info.State.FirstSeq != 1 || info.State.Msgs != info.State.LastSeq {
		return nil, fmt.Errorf("the feed lost messages: %+v", info.State)
	}
	cons, err := js.OrderedConsumer(ctx, app.FeedStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, info.State.Msgs)
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			out = append(out, m.Headers().Get(jetstream.MsgIDHeader)+"@"+m.Headers().Get(relay.PositionHeader))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("the feed's messages stop at %d of %d", len(out), info.State.Msgs)
		}
	}
	return out[:info.State.Msgs], nil
}

// natsNode is the NATS process with the given server name.
func natsNode(t *testing.T, c *devcluster.Cluster, name string) *devcluster.Process {
	t.Helper()
	for i := range 3 {
		if c.NATS(i).Name() == name {
			return c.NATS(i)
		}
	}
	t.Fatalf("no NATS node %q", name)
	return nil
}

// relayHolder is the replica that holds the relay lease, once exactly one
// replica claims it, asking every running replica but not (-1: none; a
// paused replica never answers).
func relayHolder(t *testing.T, ctx context.Context, c *devcluster.Cluster, not int) int {
	t.Helper()
	holder := -1
	eventually(t, ctx, func() error {
		var claims []int
		for i := range c.Replicas() {
			if i == not || !c.Replica(i).Running() {
				continue
			}
			rep, err := readyz(ctx, c, i)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Replica(i).Name(), err)
			}
			for _, comp := range rep.Components {
				if comp.Name == "relay" && comp.Active {
					claims = append(claims, i)
				}
			}
		}
		if len(claims) != 1 {
			return fmt.Errorf("relay held by replicas %v", claims)
		}
		holder = claims[0]
		return nil
	})
	return holder
}

// verifyOnce runs `accountctl verify all` once: any failure fails the test.
func verifyOnce(t *testing.T, ctx context.Context, c *devcluster.Cluster) {
	t.Helper()
	cmd := exec.CommandContext(ctx, c.Binary("accountctl"), "--data", t.TempDir(), "verify", "all")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, c.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("accountctl verify all: %v\n%s", err, out)
	}
	t.Logf("accountctl verify all: %s", lastLine(out))
}

// stopAll and startAll stop and start every replica at once.
func stopAll(t *testing.T, ctx context.Context, c *devcluster.Cluster) {
	t.Helper()
	each(t, c, func(p *devcluster.Process) error { return p.Stop(ctx) })
}

func startAll(t *testing.T, ctx context.Context, c *devcluster.Cluster) {
	t.Helper()
	each(t, c, func(p *devcluster.Process) error { return p.Start(ctx) })
}

func each(t *testing.T, c *devcluster.Cluster, f func(*devcluster.Process) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, c.Replicas())
	for i := range c.Replicas() {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(c.Replica(i)) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// logMarks are the replicas' log sizes now: logSince reads from there.
func logMarks(c *devcluster.Cluster) []int64 {
	marks := make([]int64, c.Replicas())
	for i := range marks {
		if st, err := os.Stat(c.Replica(i).LogFile()); err == nil {
			marks[i] = st.Size()
		}
	}
	return marks
}

// logSince are replica i's log lines past mark that contain s.
func logSince(t *testing.T, c *devcluster.Cluster, i int, mark int64, s string) []string {
	t.Helper()
	raw, err := os.ReadFile(c.Replica(i).LogFile())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(raw[min(mark, int64(len(raw))):]), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}
