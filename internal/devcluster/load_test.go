package devcluster_test

// Shared scaffolding of the multi-replica fault tests: a steady load of
// mixed commands and reads that counts what happened, `accountctl verify
// all` against the cluster's servers, and who holds the relay and the
// projectors' pins.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/devcluster"
)

// loadReplicaArgs lift the per-address limits for load: every client of a
// devcluster comes from 127.0.0.1 (through the proxy, too).
var loadReplicaArgs = []string{"--registration-limit", "100000/1m"}

// Outcome kinds a load counts.
const (
	kindOK         = "ok"                  // the expected answer
	kindRetried    = "retried"             // a closed connection, then the expected answer on the retry
	kindStale      = "stale"               // a read with the consistency token showed less than was acknowledged
	kindTimeout    = "consistency_timeout" // 503 consistency_timeout: bounded, never stale
	kindUnavail    = "unavailable"         // 502/503 other than the above, or no connection
	kindUnexpected = "unexpected"          // any other answer
)

// load runs workers that each register an account, sign in and then loop
// over profile updates, renames, token create/disable/delete and reads
// sending X-Consistency-Token, checking each read against what was
// acknowledged. A worker's requests are sequential, so its account's
// acknowledged state is known exactly, up to the writes whose outcome is
// unknown (no answer, or a 5xx that may come after the write), which it
// keeps as possible states.
type load struct {
	// target picks the base URL of a request (the proxy, or a replica).
	target func() string
	client *http.Client

	mu       sync.Mutex
	counts   map[string]int       // "op kind" -> n
	failures []string             // the first few failures, for the log
	accounts map[int]*loadAccount // by worker
	writes   int                  // acknowledged writes
	stopping chan struct{}        // closed by stop: no new request
	stopOnce sync.Once
	done     sync.WaitGroup
}

// loadAccount is what a worker knows of its account: what was
// acknowledged, and what writes of unknown outcome may have done since.
type loadAccount struct {
	Username, Password, Session, FullName string
	Tokens                                map[string]bool // id -> enabled
	Consistency                           string          // the newest X-Consistency-Token
	Base                                  string          // where it was last written

	MaybeNames, MaybeUsernames []string        // unknown full-name and username writes since the last acknowledged one
	MaybeGone, MaybeDisabled   map[string]bool // tokens an unknown delete or disable may have changed
	MaybeExtraTokens           int             // unknown token creations
}

// outcome of one request.
type outcome int

const (
	acknowledged outcome = iota // the expected answer
	notApplied                  // refused, or never sent: nothing changed
	unknown                     // no answer, or one that may follow a write
)

// startLoad starts workers sending requests to target() until stop; ctx
// ends everything (requests in flight included).
func startLoad(t *testing.T, ctx context.Context, workers int, target func() string) *load {
	t.Helper()
	l := &load{
		target:   target,
		client:   &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
		counts:   map[string]int{},
		accounts: map[int]*loadAccount{},
		stopping: make(chan struct{}),
	}
	for i := range workers {
		l.done.Add(1)
		go func() { defer l.done.Done(); l.work(ctx, i) }()
	}
	t.Cleanup(l.stop)
	return l
}

// stop lets every worker finish its request in flight and waits for them,
// so that every write is counted.
func (l *load) stop() {
	l.stopOnce.Do(func() { close(l.stopping) })
	l.done.Wait()
}

func (l *load) stopped(ctx context.Context) bool {
	select {
	case <-l.stopping:
		return true
	default:
		return ctx.Err() != nil
	}
}

func (l *load) count(op, kind, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[op+" "+kind]++
	if kind != kindOK && kind != kindRetried && kind != kindTimeout && len(l.failures) < 20 {
		l.failures = append(l.failures, op+" "+kind+": "+detail)
	}
}

// Counts are the outcomes so far, "op kind" -> n.
func (l *load) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// Total is the number of outcomes of kind (all ops).
func (l *load) Total(kind string) int {
	n := 0
	for k, v := range l.Counts() {
		if strings.HasSuffix(k, " "+kind) {
			n += v
		}
	}
	return n
}

// Report is the counts and the first failures, for t.Log.
func (l *load) Report() string {
	counts := l.Counts()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, counts[k])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&b, "(acknowledged writes %d)", l.writes)
	for _, f := range l.failures {
		b.WriteString("\n  " + f)
	}
	return b.String()
}

// Accounts are copies of the workers' states.
func (l *load) Accounts() []loadAccount {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loadAccount
	for _, a := range l.accounts {
		c := *a
		c.Tokens, c.MaybeGone, c.MaybeDisabled = maps.Clone(a.Tokens), maps.Clone(a.MaybeGone), maps.Clone(a.MaybeDisabled)
		c.MaybeNames, c.MaybeUsernames = slices.Clone(a.MaybeNames), slices.Clone(a.MaybeUsernames)
		out = append(out, c)
	}
	return out
}

// loadAnswer is one exchange: status, the consistency token, the body.
type loadAnswer struct {
	status int
	token  string
	body   []byte
}

// do sends one request to base and counts its outcome. A closed
// connection (no answer at all, or the proxy's 502 for one) is retried
// once, on whatever target() picks, for idempotent requests, and for any
// request when nothing was sent (connection refused), as the issue allows
// clients to.
func (l *load) do(ctx context.Context, op, method, base, path, session, consistency string, body any, want int) (loadAnswer, string, outcome) {
	idempotent := method != http.MethodPost
	var a loadAnswer
	var err error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			base = l.target()
		}
		a, err = l.send(ctx, method, base, path, session, consistency, body)
		closed := err != nil || a.status == http.StatusBadGateway
		nothingSent := (err != nil && refused(err)) || (a.status == http.StatusBadGateway && bytes.Contains(a.body, []byte("connection refused")))
		if closed && attempt == 0 && (idempotent || nothingSent) && ctx.Err() == nil {
			continue
		}
		kind := kindOK
		if attempt > 0 {
			kind = kindRetried
		}
		switch {
		case ctx.Err() != nil:
			return a, "", unknown // the test is ending: not an outcome
		case err != nil:
			l.count(op, kindUnavail, err.Error())
			if refused(err) {
				return a, "", notApplied
			}
			return a, "", unknown
		case a.status == want:
			l.count(op, kind, "")
			return a, base, acknowledged
		case a.status == http.StatusServiceUnavailable && bytes.Contains(a.body, []byte("consistency_timeout")):
			l.count(op, kindTimeout, string(a.body))
			return a, "", notApplied
		case a.status == http.StatusBadGateway && nothingSent:
			l.count(op, kindUnavail, strconv.Itoa(a.status)+" "+string(a.body))
			return a, "", notApplied
		case a.status >= 500:
			l.count(op, kindUnavail, strconv.Itoa(a.status)+" "+string(a.body))
			return a, "", unknown
		default:
			l.count(op, kindUnexpected, strconv.Itoa(a.status)+" "+string(a.body))
			return a, "", notApplied
		}
	}
}

func (l *load) send(ctx context.Context, method, base, path, session, consistency string, body any) (loadAnswer, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return loadAnswer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if session != "" {
		req.Header.Set("Authorization", "Bearer "+session)
	}
	if consistency != "" {
		req.Header.Set("X-Consistency-Token", consistency)
	}
	res, err := l.client.Do(req)
	if err != nil {
		return loadAnswer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return loadAnswer{}, err
	}
	return loadAnswer{status: res.StatusCode, token: res.Header.Get("X-Consistency-Token"), body: raw}, nil
}

// refused: the connection was never made, so nothing was sent.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

// work is one worker: an account of its own, then a loop of mixed
// requests until the load stops.
func (l *load) work(ctx context.Context, worker int) {
	acc := &loadAccount{Username: "load" + randomHex(6), Password: "correct7horse" + randomHex(4),
		Tokens: map[string]bool{}, MaybeGone: map[string]bool{}, MaybeDisabled: map[string]bool{}}
	for !l.stopped(ctx) { // register until one is acknowledged
		acc.FullName = "Ada " + randomHex(3)
		a, base, out := l.do(ctx, "register", http.MethodPost, l.target(), "/v1/users", "",
			"", map[string]any{"username": acc.Username, "password": acc.Password, "full_name": acc.FullName}, http.StatusCreated)
		if out == acknowledged {
			l.record(worker, acc, a.token, base, nil)
			break
		}
		if out == unknown { // it may exist: another name, to be sure
			acc.Username = "load" + randomHex(6)
		}
		pause(ctx, 200*time.Millisecond)
	}
	// Sign-in retries a few times: a replica other than the registering
	// one learns of the account from the log a moment later.
	for !l.stopped(ctx) && acc.Session == "" {
		a, _, out := l.do(ctx, "sign-in", http.MethodPost, l.target(), "/v1/sessions", "", "",
			map[string]any{"username": acc.Username, "password": acc.Password}, http.StatusCreated)
		var s struct {
			Token string `json:"token"`
		}
		if out == acknowledged && json.Unmarshal(a.body, &s) == nil {
			acc.Session = s.Token
			// The other replicas' credential indexes learn of the session
			// from the log, within their lag: a request there before that
			// is 401 (see the report of issue 18's tests).
			pause(ctx, time.Second)
			break
		}
		pause(ctx, 300*time.Millisecond)
	}
	for i := 0; !l.stopped(ctx); i++ {
		switch i % 6 {
		case 0, 3: // a profile update
			name := "Ada " + randomHex(3)
			a, base, out := l.do(ctx, "update", http.MethodPatch, l.target(), "/v1/me", acc.Session, "", map[string]any{"full_name": name}, http.StatusOK)
			l.record(worker, acc, a.token, base, func() {
				switch out {
				case acknowledged:
					acc.FullName, acc.MaybeNames = name, nil
				case unknown:
					acc.MaybeNames = append(acc.MaybeNames, name)
				}
			})
		case 1: // a token created, disabled, deleted (every other one kept)
			a, base, out := l.do(ctx, "token-create", http.MethodPost, l.target(), "/v1/me/tokens", acc.Session, "",
				map[string]any{"title": "load", "scopes": []string{"profile:read"}, "expires_at": time.Now().Add(24 * time.Hour).Format(time.RFC3339)}, http.StatusCreated)
			var tok struct {
				ID string `json:"id"`
			}
			if out == unknown {
				l.record(worker, acc, "", "", func() { acc.MaybeExtraTokens++ })
			}
			if out != acknowledged || json.Unmarshal(a.body, &tok) != nil {
				continue
			}
			l.record(worker, acc, a.token, base, func() { acc.Tokens[tok.ID] = true })
			a, base, out = l.do(ctx, "token-disable", http.MethodPatch, l.target(), "/v1/me/tokens/"+tok.ID, acc.Session, "", map[string]any{"enabled": false}, http.StatusOK)
			l.record(worker, acc, a.token, base, func() {
				switch out {
				case acknowledged:
					acc.Tokens[tok.ID] = false
				case unknown:
					acc.MaybeDisabled[tok.ID] = true
				}
			})
			if i%12 == 1 {
				a, base, out := l.do(ctx, "token-delete", http.MethodDelete, l.target(), "/v1/me/tokens/"+tok.ID, acc.Session, "", nil, http.StatusNoContent)
				l.record(worker, acc, a.token, base, func() {
					switch {
					case out == acknowledged:
						delete(acc.Tokens, tok.ID)
					case out == unknown, a.status == http.StatusNotFound: // 404: a retried delete that had gone through
						acc.MaybeGone[tok.ID] = true
					}
				})
			}
		case 5: // a rename, now and then
			if i%30 != 5 {
				l.read(ctx, acc)
				continue
			}
			name := "load" + randomHex(6)
			a, base, out := l.do(ctx, "rename", http.MethodPut, l.target(), "/v1/me/username", acc.Session, "", map[string]any{"username": name}, http.StatusOK)
			l.record(worker, acc, a.token, base, func() {
				switch out {
				case acknowledged:
					acc.Username, acc.MaybeUsernames = name, nil
				case unknown:
					acc.MaybeUsernames = append(acc.MaybeUsernames, name)
				}
			})
		default:
			l.read(ctx, acc)
		}
	}
}

// read reads the account with its newest consistency token and checks it
// shows everything acknowledged.
func (l *load) read(ctx context.Context, acc *loadAccount) {
	a, _, out := l.do(ctx, "read", http.MethodGet, l.target(), "/v1/me", acc.Session, acc.Consistency, nil, http.StatusOK)
	if out != acknowledged {
		return
	}
	var me struct {
		Username string `json:"username"`
		FullName string `json:"full_name"`
	}
	if err := json.Unmarshal(a.body, &me); err != nil || !acc.possible(me.Username, me.FullName) {
		l.mu.Lock()
		l.counts["read ok"]-- // counted as ok by do: it was not
		l.mu.Unlock()
		l.count("read", kindStale, fmt.Sprintf("want %s %q, got %s", acc.Username, acc.FullName, a.body))
	}
}

// possible: the account may show this username and full name.
func (a *loadAccount) possible(username, fullName string) bool {
	return (username == a.Username || slices.Contains(a.MaybeUsernames, username)) &&
		(fullName == a.FullName || slices.Contains(a.MaybeNames, fullName))
}

// record applies change to the worker's account under the lock (what
// Accounts copies), with the write's consistency token and replica.
func (l *load) record(worker int, acc *loadAccount, token, base string, change func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if change != nil {
		change()
	}
	if token != "" {
		acc.Consistency = token
		acc.Base = base
		l.writes++
	}
	l.accounts[worker] = acc
}

// checkAcknowledged reads every account the load wrote, on every replica
// given, with its newest consistency token, and fails on anything
// acknowledged that is missing: the name, the username, each token and
// whether it is enabled (writes of unknown outcome may or may not show).
// Call it after stop.
func (l *load) checkAcknowledged(t *testing.T, ctx context.Context, bases []string) {
	t.Helper()
	for _, acc := range l.Accounts() {
		if acc.Session == "" {
			continue // never signed in: nothing acknowledged to check but the account
		}
		for _, base := range bases {
			var me struct {
				Username string `json:"username"`
				FullName string `json:"full_name"`
			}
			var toks struct {
				Tokens []struct {
					ID      string `json:"id"`
					Enabled bool   `json:"enabled"`
				} `json:"tokens"`
			}
			eventually(t, ctx, func() error {
				if err := getJSON(ctx, base+"/v1/me", acc.Session, acc.Consistency, &me); err != nil {
					return err
				}
				return getJSON(ctx, base+"/v1/me/tokens", acc.Session, acc.Consistency, &toks)
			})
			if !acc.possible(me.Username, me.FullName) {
				t.Errorf("%s: account %s %q, acknowledged %s %q (maybe %v %v)", base, me.Username, me.FullName, acc.Username, acc.FullName, acc.MaybeUsernames, acc.MaybeNames)
			}
			got := map[string]bool{}
			for _, tok := range toks.Tokens {
				got[tok.ID] = tok.Enabled
			}
			for id, enabled := range acc.Tokens {
				e, ok := got[id]
				switch {
				case !ok && !acc.MaybeGone[id]:
					t.Errorf("%s: %s's token %s is missing", base, acc.Username, id)
				case ok && e != enabled && !(acc.MaybeDisabled[id] && !e):
					t.Errorf("%s: %s's token %s: enabled %v, acknowledged %v", base, acc.Username, id, e, enabled)
				}
			}
			extra := 0
			for id := range got {
				if _, ok := acc.Tokens[id]; !ok {
					extra++
				}
			}
			if extra > acc.MaybeExtraTokens {
				t.Errorf("%s: %s has %d tokens acknowledged deleted or never acknowledged, %d creations of unknown outcome", base, acc.Username, extra, acc.MaybeExtraTokens)
			}
		}
	}
}

// getJSON GETs url with a session and a consistency token into out.
func getJSON(ctx context.Context, url, session, consistency string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if session != "" {
		req.Header.Set("Authorization", "Bearer "+session)
	}
	if consistency != "" {
		req.Header.Set("X-Consistency-Token", consistency)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, res.Status, raw)
	}
	return json.Unmarshal(raw, out)
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// runningReplicas are the base URLs of the replicas running now.
func runningReplicas(c *devcluster.Cluster) []string {
	var out []string
	for i := range c.Replicas() {
		if c.Replica(i).Running() {
			out = append(out, c.ReplicaURL(i))
		}
	}
	return out
}

// verifyAll runs the real `accountctl verify all` against the cluster's
// servers and fails the test on any difference. Documents written while it
// runs can differ (its help says so), and on clustered NATS its first
// fetch sometimes finds no consumer leader yet ("no responders available
// for request", issue 18 point 7): it tries up to five times, and only the
// last attempt's output counts. Call it with the load stopped.
func verifyAll(t *testing.T, ctx context.Context, c *devcluster.Cluster) {
	t.Helper()
	var out []byte
	var err error
	for attempt := range 5 {
		cmd := exec.CommandContext(ctx, c.Binary("accountctl"), "--data", t.TempDir(), "verify", "all")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, c.Env()...)
		out, err = cmd.CombinedOutput()
		if err == nil {
			t.Logf("accountctl verify all (attempt %d): %s", attempt+1, strings.TrimSpace(lastLine(out)))
			return
		}
		pause(ctx, 2*time.Second)
	}
	t.Fatalf("accountctl verify all: %v\n%s", err, out)
}

func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// readyReport is the part of /readyz the tests read.
type readyReport struct {
	Ready      bool   `json:"ready"`
	Replica    string `json:"replica"`
	Components []struct {
		Name     string `json:"name"`
		OK       bool   `json:"ok"`
		Active   bool   `json:"active"`
		Position uint64 `json:"position"`
	} `json:"components"`
}

// readyz reads replica i's /readyz (whether it is ready or not).
func readyz(ctx context.Context, c *devcluster.Cluster, i int) (readyReport, error) {
	var rep readyReport
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.ReplicaURL(i)+"/readyz", nil)
	if err != nil {
		return rep, err
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return rep, err
	}
	defer res.Body.Close()
	err = json.NewDecoder(res.Body).Decode(&rep)
	return rep, err
}

// holders says which replica (by index) is active for each component that
// one is active for, from every running replica's /readyz: "relay" (the
// relay lease) and "projector/NAME" (the consumer's pin). A component two
// replicas claim is listed under both, so holders[name] has 2 entries.
func holders(ctx context.Context, c *devcluster.Cluster) (map[string][]int, error) {
	out := map[string][]int{}
	for i := range c.Replicas() {
		if !c.Replica(i).Running() {
			continue
		}
		rep, err := readyz(ctx, c, i)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Replica(i).Name(), err)
		}
		for _, comp := range rep.Components {
			if comp.Active {
				out[comp.Name] = append(out[comp.Name], i)
			}
		}
	}
	for _, v := range out {
		sort.Ints(v)
	}
	return out, nil
}

// projectorHolder is the replica holding the pin of projector/name, once
// exactly one replica claims it (a write or two may be needed before a
// pin is given: pass nudge to make them).
func projectorHolder(t *testing.T, ctx context.Context, c *devcluster.Cluster, name string, nudge func()) int {
	t.Helper()
	holder := -1
	eventually(t, ctx, func() error {
		h, err := holders(ctx, c)
		if err != nil {
			return err
		}
		if got := h["projector/"+name]; len(got) != 1 {
			if nudge != nil {
				nudge()
			}
			return fmt.Errorf("projector/%s held by replicas %v", name, got)
		}
		holder = h["projector/"+name][0]
		return nil
	})
	return holder
}
