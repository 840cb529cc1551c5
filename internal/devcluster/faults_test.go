package devcluster_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/internal/devcluster"
	"github.com/accountd/accountd/projections"
)

// TestReplicaFaults runs issue 18's replica-process faults on one cluster
// of three replicas, started at once on empty servers, under a steady load
// of mixed commands and reads: each fault is a subtest, and each ends with
// every acknowledged write still there.
func TestReplicaFaults(t *testing.T) {
	buildFirst(t)
	started := time.Now()
	// A guard against hangs, not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c := startCluster(t, ctx, devcluster.Options{Replicas: 3, ReplicaArgs: loadReplicaArgs, Keep: os.Getenv("DEVCLUSTER_KEEP") != ""})
	t.Logf("cluster directory %s", c.Dir())
	t.Logf("cluster of 3 replicas started in %s", time.Since(started).Round(time.Millisecond))

	t.Run("three replicas started at once: all ready, one relay, one holder per projector", func(t *testing.T) {
		for i := range c.Replicas() {
			rep, err := readyz(ctx, c, i)
			if err != nil || !rep.Ready {
				t.Fatalf("%s: ready %v, %v", c.Replica(i).Name(), rep.Ready, err)
			}
		}
		// The first registration and sign-in on fresh servers create the
		// limits' buckets (see the report of issue 18's tests): timed here,
		// outside the load.
		warm := time.Now()
		username := "warm" + randomHex(6)
		eventually(t, ctx, func() error {
			return postOnce(ctx, c.ProxyURL()+"/v1/users", `{"username":"`+username+`","password":"correct7horse"}`, http.StatusCreated, nil)
		})
		registered := time.Since(warm)
		eventually(t, ctx, func() error {
			return postOnce(ctx, c.ProxyURL()+"/v1/sessions", `{"username":"`+username+`","password":"correct7horse"}`, http.StatusCreated, nil)
		})
		t.Logf("first registration on fresh servers took %s, the first sign-in %s more", registered.Round(time.Millisecond), (time.Since(warm) - registered).Round(time.Millisecond))
		l := startLoad(t, ctx, 2, func() string { return c.ProxyURL() })
		// Every projector gets its pin with its first message.
		h := map[string][]int{}
		eventually(t, ctx, func() error {
			var err error
			if h, err = holders(ctx, c); err != nil {
				return err
			}
			for name, held := range h {
				if len(held) != 1 {
					return fmt.Errorf("%s held by replicas %v", name, held)
				}
			}
			if len(h["relay"]) != 1 || len(h["projector/users"]) != 1 || len(h["projector/tokens"]) != 1 {
				return fmt.Errorf("holders %v", h)
			}
			return nil
		})
		l.stop()
		t.Logf("holders: %v; load: %s", h, l.Report())
		if n := l.Total(kindStale) + l.Total(kindUnexpected) + l.Total(kindUnavail); n != 0 {
			t.Errorf("%d failed requests without a fault", n)
		}
		l.checkAcknowledged(t, ctx, runningReplicas(c))
	})

	probe := newProbe(t, ctx, c)

	t.Run("a replica with the wrong secret key exits 1 with one line and parks nothing", func(t *testing.T) {
		defer underLoad(t, ctx, c)()
		before := countParked(t, ctx, c)
		cmd := exec.CommandContext(ctx, c.Binary("accountd"), "--data", t.TempDir(), "--http", "127.0.0.1:0", "--metrics-listen", "off")
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for _, kv := range c.Env() {
			if !strings.HasPrefix(kv, "ACCOUNTD_SECRET_KEY=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "ACCOUNTD_SECRET_KEY="+otherSecretKey(t, c.SecretKey()))
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		var errorLines []string
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				errorLines = append(errorLines, line)
			}
		}
		if len(errorLines) != 1 || stdout.Len() != 0 {
			t.Fatalf("want one error line and nothing on stdout, got stdout %q, stderr:\n%s", stdout.String(), stderr.String())
		}
		t.Logf("the refusal: %s", errorLines[0])
		probe.roundTrip(t, ctx, c) // the replicas go on serving what the log says
		if after := countParked(t, ctx, c); after != before {
			t.Fatalf("parked events: %d before, %d after", before, after)
		}
	})

	t.Run("write on A, read with the token on B and C 1,000 times: never stale", func(t *testing.T) {
		defer underLoad(t, ctx, c)()
		waits := crossReplicaReads(t, ctx, c, 4, 1000)
		t.Logf("read-your-writes wait on another replica over %d reads (the first read after each write): p50 %s, p99 %s, max %s",
			len(waits), percentile(waits, 50), percentile(waits, 99), percentile(waits, 100))
	})

	t.Run("projectors stopped (SIGSTOP of the pin holder): a read with the token is a bounded 503, never stale", func(t *testing.T) {
		defer underLoad(t, ctx, c)()
		h := projectorHolder(t, ctx, c, "users", nil)
		writer, reader := others(c, h)
		if err := c.Replica(h).Pause(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := c.Replica(h).Resume(); err != nil {
				t.Error(err)
			}
		}()
		token := probe.write(t, ctx, c.ReplicaURL(writer))
		started := time.Now()
		status, body := probe.read(ctx, c.ReplicaURL(reader), token)
		took := time.Since(started)
		t.Logf("%s paused (holds projector/users); write on %s, read on %s: %d in %s", c.Replica(h).Name(), c.Replica(writer).Name(), c.Replica(reader).Name(), status, took.Round(time.Millisecond))
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "consistency_timeout") {
			t.Fatalf("want 503 consistency_timeout, got %d %s", status, body)
		}
	})

	t.Run("a paused replica resumed refuses a token revoked meanwhile, never lets it in", func(t *testing.T) {
		for round := range 3 {
			var tok struct {
				ID    string `json:"id"`
				Token string `json:"token"`
			}
			body := `{"title":"paused","scopes":["profile:read"],"expires_at":"` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`
			probe.call(t, ctx, http.MethodPost, c.ReplicaURL(0)+"/v1/me/tokens", body, http.StatusCreated, &tok)
			eventually(t, ctx, func() error { return whoami(ctx, c.ReplicaURL(1), tok.Token, http.StatusOK) })
			if err := c.Replica(1).Pause(); err != nil {
				t.Fatal(err)
			}
			probe.call(t, ctx, http.MethodDelete, c.ReplicaURL(0)+"/v1/me/tokens/"+tok.ID, "", http.StatusNoContent, nil)
			// Asked while paused: answered the moment it resumes, with its
			// credential index seconds behind the log.
			answer := make(chan error, 1)
			go func() { answer <- whoami(ctx, c.ReplicaURL(1), tok.Token, http.StatusOK) }()
			pause(ctx, 1500*time.Millisecond)
			if err := c.Replica(1).Resume(); err != nil {
				t.Fatal(err)
			}
			if err := <-answer; err == nil {
				t.Fatalf("round %d: a token revoked while the replica was paused was let in after it resumed", round)
			} else {
				t.Logf("round %d: %v", round, err)
			}
		}
	})

	for _, fault := range []struct {
		name   string
		signal syscall.Signal
	}{
		{"kill -9", syscall.SIGKILL},
		{"SIGTERM", syscall.SIGTERM},
	} {
		t.Run(fault.name+" of the projectors' pin holder under load: a standby takes over, nothing acknowledged lost", func(t *testing.T) {
			l := startLoad(t, ctx, 4, func() string { return c.ProxyURL() })
			defer checkLoad(t, ctx, c, l)
			h := projectorHolder(t, ctx, c, "users", nil)
			before, _ := holders(ctx, c)
			pause(ctx, time.Second) // load before the fault
			t0 := time.Now()
			if err := c.Replica(h).Signal(fault.signal); err != nil {
				t.Fatal(err)
			}
			stall := probe.handOver(t, ctx, c, h, t0)
			if err := c.Replica(h).Wait(ctx); err != nil {
				t.Fatal(err)
			}
			after, _ := holders(ctx, c)
			t.Logf("%s of %s: a write after it was readable with its token on another replica %s after the signal (hand-over); holders before %v, after %v",
				fault.name, c.Replica(h).Name(), stall.Round(time.Millisecond), before, after)
			pause(ctx, time.Second) // load without it
			if err := c.Replica(h).Start(ctx); err != nil {
				t.Fatal(err)
			}
			pause(ctx, time.Second) // load with it back
			t.Logf("load so far: %s", l.Report())
		})
	}

	t.Run("rolling SIGTERM restart under load: no failed request", func(t *testing.T) {
		l := startLoad(t, ctx, 4, func() string { return c.ProxyURL() })
		defer checkLoad(t, ctx, c, l)
		failedBefore := failed(l)
		for i := range c.Replicas() {
			pause(ctx, time.Second)
			started := time.Now()
			if err := c.Replica(i).Stop(ctx); err != nil {
				t.Fatal(err)
			}
			stopped := time.Since(started)
			if err := c.Replica(i).Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s stopped in %s, ready again %s later", c.Replica(i).Name(), stopped.Round(time.Millisecond), (time.Since(started) - stopped).Round(time.Millisecond))
		}
		pause(ctx, time.Second)
		if n := failed(l) - failedBefore; n != 0 {
			t.Errorf("%d failed requests during the rolling restart: %s", n, l.Report())
		}
	})

	t.Logf("done %s after the start", time.Since(started).Round(time.Millisecond))
}

// underLoad starts a load through the proxy; the function it returns stops
// it and checks it (checkLoad).
func underLoad(t *testing.T, ctx context.Context, c *devcluster.Cluster) func() {
	l := startLoad(t, ctx, 4, func() string { return c.ProxyURL() })
	return func() { checkLoad(t, ctx, c, l) }
}

// checkLoad stops l, then fails on any stale read, on any acknowledged
// write missing on any running replica, and on any difference accountctl
// verify all finds between the read models and a rebuild from the log.
func checkLoad(t *testing.T, ctx context.Context, c *devcluster.Cluster, l *load) {
	t.Helper()
	l.stop()
	t.Logf("load: %s", l.Report())
	if n := l.Total(kindStale); n != 0 {
		t.Errorf("%d stale reads", n)
	}
	l.checkAcknowledged(t, ctx, runningReplicas(c))
	verifyAll(t, ctx, c)
}

// failed counts the load's failed requests: stale, unexpected, unavailable
// and consistency timeouts.
func failed(l *load) int {
	return l.Total(kindStale) + l.Total(kindUnexpected) + l.Total(kindUnavail) + l.Total(kindTimeout)
}

// others are two replicas other than h (of three).
func others(c *devcluster.Cluster, h int) (int, int) {
	var out []int
	for i := range c.Replicas() {
		if i != h {
			out = append(out, i)
		}
	}
	return out[0], out[1]
}

// otherSecretKey is a valid secret key that is not key.
func otherSecretKey(t *testing.T, key string) string {
	t.Helper()
	raw := make([]byte, 32)
	for {
		_, _ = rand.Read(raw)
		if k := base64.StdEncoding.EncodeToString(raw); k != key {
			return k
		}
	}
}

// countParked counts the documents in the parked collection.
func countParked(t *testing.T, ctx context.Context, c *devcluster.Cluster) int64 {
	t.Helper()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(c.MongoURI()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	n, err := client.Database("accounts").Collection(projections.ParkedCollection).CountDocuments(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// probe is an account of the test's own, to write on one replica and read
// on another with the consistency token.
type probe struct {
	session string
	name    string // the full name last written
}

func newProbe(t *testing.T, ctx context.Context, c *devcluster.Cluster) *probe {
	t.Helper()
	username, password := "probe"+randomHex(6), "correct7horse"
	post(t, ctx, c.ReplicaURL(0)+"/v1/users", `{"username":"`+username+`","password":"`+password+`"}`, http.StatusCreated, nil)
	var session struct {
		Token string `json:"token"`
	}
	post(t, ctx, c.ReplicaURL(0)+"/v1/sessions", `{"username":"`+username+`","password":"`+password+`"}`, http.StatusCreated, &session)
	p := &probe{session: session.Token}
	// Every replica knows the session before the tests use it anywhere.
	for i := range c.Replicas() {
		eventually(t, ctx, func() error {
			var me struct{}
			return getJSON(ctx, c.ReplicaURL(i)+"/v1/me", p.session, "", &me)
		})
	}
	return p
}

// write changes the probe's full name on base and returns the consistency
// token.
func (p *probe) write(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	token, err := p.tryWrite(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func (p *probe) tryWrite(ctx context.Context, base string) (string, error) {
	name := "Probe " + randomHex(6)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, base+"/v1/me", strings.NewReader(`{"full_name":"`+name+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.session)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Consistency-Token") == "" {
		return "", fmt.Errorf("PATCH %s/v1/me: %s %s", base, res.Status, raw)
	}
	p.name = name
	return res.Header.Get("X-Consistency-Token"), nil
}

// read reads the probe on base with token: the status and the body; a 200
// that does not show the name last written is reported as status 0 (stale).
func (p *probe) read(ctx context.Context, base, token string) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+p.session)
	req.Header.Set("X-Consistency-Token", token)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		var me struct {
			FullName string `json:"full_name"`
		}
		if json.Unmarshal(raw, &me) != nil || me.FullName != p.name {
			return 0, string(raw)
		}
	}
	return res.StatusCode, string(raw)
}

// roundTrip writes on replica 0 and reads with the token on every replica:
// each shows the write.
func (p *probe) roundTrip(t *testing.T, ctx context.Context, c *devcluster.Cluster) {
	t.Helper()
	token := p.write(t, ctx, c.ReplicaURL(0))
	for i := range c.Replicas() {
		if status, body := p.read(ctx, c.ReplicaURL(i), token); status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.Replica(i).Name(), status, body)
		}
	}
}

// crossReplicaReads has workers each write on one replica and read with
// the token on the two others in turn, reads in all, and fails on any
// stale read. It returns the wait of the first read after each write.
func crossReplicaReads(t *testing.T, ctx context.Context, c *devcluster.Cluster, workers, reads int) []time.Duration {
	t.Helper()
	const readsPerWrite = 5
	var mu sync.Mutex
	var waits []time.Duration
	unavailable := 0
	defer func() { t.Logf("reads answered 503 and retried after a second: %d", unavailable) }()
	var wg sync.WaitGroup
	for w := range workers {
		p := newProbe(t, ctx, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := w % c.Replicas()
			b, bb := others(c, a)
			for n := 0; n < reads/workers && !t.Failed(); {
				token, err := p.tryWrite(ctx, c.ReplicaURL(a))
				if err != nil {
					t.Error(err)
					return
				}
				for k := 0; k < readsPerWrite && n < reads/workers; k++ {
					reader := []int{b, bb}[k%2]
					started := time.Now()
					status, body := p.read(ctx, c.ReplicaURL(reader), token)
					// A 503 is the replica refusing to answer from state it
					// cannot vouch for (an index or read model behind on a
					// loaded machine): a client retries after Retry-After.
					// What must never come is a stale 200.
					for retry := 0; status == http.StatusServiceUnavailable && retry < 10; retry++ {
						mu.Lock()
						unavailable++
						mu.Unlock()
						pause(ctx, time.Second)
						status, body = p.read(ctx, c.ReplicaURL(reader), token)
					}
					if status != http.StatusOK {
						t.Errorf("write on %s, read %d on %s: %d %s", c.Replica(a).Name(), k, c.Replica(reader).Name(), status, body)
						return
					}
					if k == 0 {
						mu.Lock()
						waits = append(waits, time.Since(started))
						mu.Unlock()
					}
					n++
				}
			}
		}()
	}
	wg.Wait()
	return waits
}

// percentile is the p-th percentile of ds (p 100: the maximum).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)].Round(100 * time.Microsecond)
}

// call sends a request with the probe's session and decodes a JSON answer
// into out.
func (p *probe) call(t *testing.T, ctx context.Context, method, url, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+p.session)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %s %s", method, url, res.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

// whoami asks base who credential is: nil when the answer is want.
func whoami(ctx context.Context, base, credential string, want int) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/auth/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+credential)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("whoami: %s %s", res.Status, raw)
	}
	return nil
}

// handOver measures a fault of replica h at t0: a write on another replica
// right away, then reads with its token on a third until one shows it. A
// stale answer fails the test.
func (p *probe) handOver(t *testing.T, ctx context.Context, c *devcluster.Cluster, h int, t0 time.Time) time.Duration {
	t.Helper()
	writer, reader := others(c, h)
	var token string
	eventually(t, ctx, func() error {
		var err error
		token, err = p.tryWrite(ctx, c.ReplicaURL(writer))
		return err
	})
	for {
		status, body := p.read(ctx, c.ReplicaURL(reader), token)
		switch {
		case status == http.StatusOK:
			return time.Since(t0)
		case status == 0:
			t.Fatalf("stale read on %s: %s", c.Replica(reader).Name(), body)
		case ctx.Err() != nil:
			t.Fatalf("no hand-over: %d %s", status, body)
		case status != http.StatusServiceUnavailable:
			t.Logf("read during the hand-over: %d %s", status, body)
			pause(ctx, 100*time.Millisecond)
		}
	}
}
