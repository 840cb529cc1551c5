package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/relay"
	"github.com/accountd/accountd/projections"
)

// cheapHashing is the --cheap-hashing setting for set-up (as in tests).
var cheapHashing = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// service is the running account service and the HTTP clients that use it.
type service struct {
	app     *app.App
	base    string
	hashing password.Params
	// signedIn carries the users' requests; anon is a separate connection
	// pool for the anonymous profile readers of the lag phase.
	signedIn, anon *http.Client
	users          []benchUser
	log            *logTally
}

type benchUser struct {
	id       string
	username string
	token    string
}

// startService starts the service on embedded servers under root.
func startService(ctx context.Context, cfg config, root string) (*service, error) {
	hashing := password.Default()
	if cfg.cheapHashing {
		hashing = cheapHashing
	}
	dir, err := os.MkdirTemp(root, "service-*") // fresh even in a kept --data-dir
	if err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tally := newLogTally()
	a, err := app.Start(startCtx, app.Config{
		Logger: slog.New(tally),
		Platform: platform.Config{
			DataDir:          dir,
			EventStoreListen: "127.0.0.1:0",
			NATSListen:       "127.0.0.1:0",
		},
		HTTPListen:     "127.0.0.1:0",
		PasswordParams: hashing,
		// Every user registers and signs in from 127.0.0.1 at once.
		SignInLimits:      commands.SignInLimits{PerAddress: commands.Rate{Burst: cfg.clients + 100, Every: time.Millisecond}},
		RegistrationLimit: commands.Rate{Burst: cfg.clients + 100, Every: time.Millisecond},
	})
	if err != nil {
		return nil, fmt.Errorf("start service: %w", err)
	}
	return &service{
		app:      a,
		base:     a.URL(),
		hashing:  hashing,
		log:      tally,
		signedIn: newHTTPClient(cfg.clients + 16),
		anon:     newHTTPClient(256),
	}, nil
}

// newHTTPClient keeps up to conns idle keep-alive connections, so closed-loop
// clients do not reconnect between requests.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
	}
}

func (s *service) close() {
	s.signedIn.CloseIdleConnections()
	s.anon.CloseIdleConnections()
	s.app.Close()
}

// call sends one JSON request and reads the whole answer, so that the
// connection is reused. It fails unless the status is want.
func (s *service) call(ctx context.Context, client *http.Client, method, path, token string, body []byte, want int) ([]byte, error) {
	out, _, err := s.callHeader(ctx, client, method, path, token, body, want)
	return out, err
}

// callHeader is call that also returns the response's header.
func (s *service) callHeader(ctx context.Context, client *http.Client, method, path, token string, body []byte, want int) ([]byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return out, resp.Header, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(out[:min(len(out), 300)]))
	}
	return out, resp.Header, nil
}

// setUpUsers registers and signs in n users, two at a time (password hashing
// is the cost, and there are two cores to spare at most).
func (s *service) setUpUsers(ctx context.Context, n int) error {
	s.users = make([]benchUser, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			u := benchUser{username: fmt.Sprintf("bench%03d", i)}
			creds, _ := json.Marshal(map[string]string{"username": u.username, "password": fmt.Sprintf("bench-passphrase-%d", i)})
			body, err := s.call(ctx, s.signedIn, http.MethodPost, "/v1/users", "", creds, http.StatusCreated)
			if err != nil {
				errs[i] = err
				return
			}
			var me struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &me); err != nil || me.ID == "" {
				errs[i] = fmt.Errorf("registration answered %q: %v", body, err)
				return
			}
			u.id = me.ID
			body, err = s.call(ctx, s.signedIn, http.MethodPost, "/v1/sessions", "", creds, http.StatusCreated)
			if err != nil {
				errs[i] = err
				return
			}
			var session struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(body, &session); err != nil || session.Token == "" {
				errs[i] = fmt.Errorf("sign-in answered %q: %v", body, err)
				return
			}
			u.token = session.Token
			s.users[i] = u
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// patchFullName sets the user's full name through PATCH /v1/me and returns
// the user stream's revision after it (the ETag).
func (s *service) patchFullName(ctx context.Context, u benchUser, name string) (uint64, error) {
	body := append(append([]byte(`{"full_name":"`), name...), `"}`...) // name is plain ASCII
	_, h, err := s.callHeader(ctx, s.signedIn, http.MethodPatch, "/v1/me", u.token, body, http.StatusOK)
	if err != nil {
		return 0, err
	}
	tag := h.Get("ETag")
	rev, err := strconv.ParseUint(strings.Trim(tag, `"`), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("PATCH /v1/me: ETag %q: %w", tag, err)
	}
	return rev, nil
}

// profileFullName is the full name anyone sees on the user's public profile.
func (s *service) profileFullName(ctx context.Context, username string) (string, error) {
	body, err := s.call(ctx, s.anon, http.MethodGet, "/v1/profiles/"+username, "", nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	var p struct {
		FullName string `json:"full_name"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", fmt.Errorf("profile %q: %w", body, err)
	}
	return p.FullName, nil
}

// drain is how long the relay and the projectors took to catch up with the
// log after a phase ended.
type drain struct {
	After      string
	Relay      time.Duration // until the relay had forwarded the newest event
	Projectors time.Duration // until every projector had applied all it was sent
	TimedOut   bool
	Err        error // only when the run was interrupted
}

// catchUp waits, up to limit, until the relay has forwarded the newest
// event of the log and every projector's consumer has nothing pending or
// unacknowledged, then until the process is nearly idle (Pebble flushes and
// compactions), so that one phase's backlog is not charged to the next.
func (s *service) catchUp(outer context.Context, after string, limit time.Duration) (d drain) {
	d.After = after
	start := time.Now()
	ctx, cancel := context.WithTimeout(outer, limit)
	defer cancel()
	defer func() {
		if err := outer.Err(); err != nil {
			d.Err = err // interrupted, not timed out
		}
	}()
	wait := func(done func() (bool, error)) bool {
		for {
			ok, err := done()
			if ok {
				return true
			}
			if err != nil && ctx.Err() == nil {
				logf("catch-up check after %s: %v", after, err)
			}
			// Each check is a few JetStream API calls, which cost the
			// server real CPU; do not poll harder than needed.
			select {
			case <-ctx.Done():
				return false
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	head, err := s.logHead(ctx)
	if err != nil {
		logf("catch-up after %s: %v", after, err)
		d.TimedOut = true
		return d
	}
	if !wait(func() (bool, error) {
		pos, err := s.relayed(ctx)
		return pos >= head, err
	}) {
		d.TimedOut = true
		return d
	}
	d.Relay = time.Since(start)
	idle := s.projectorsIdle(ctx)
	if !wait(idle) {
		d.TimedOut = true
		return d
	}
	d.Projectors = time.Since(start)
	settle(min(3*time.Second, time.Until(start.Add(limit))))
	return d
}

// logHead is the $all position of the newest event the relay forwards
// (system events are not).
func (s *service) logHead(ctx context.Context) (uint64, error) {
	rs, err := s.app.Platform.ESDB.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if e := ev.Event; e != nil && !strings.HasPrefix(e.StreamID, "$") && !strings.HasPrefix(e.EventType, "$") {
			return e.Position.Commit, nil
		}
	}
}

// relayed is the $all position of the last event the relay put on the feed.
func (s *service) relayed(ctx context.Context) (uint64, error) {
	js := s.app.Platform.JetStream
	stream, err := js.Stream(ctx, app.FeedStream)
	if err != nil {
		return 0, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	msg, err := stream.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(msg.Header.Get(relay.PositionHeader), 10, 64)
}

// projectorsIdle returns a check that every projector has been sent, and
// has acknowledged, everything on the feed it subscribes to.
func (s *service) projectorsIdle(ctx context.Context) func() (bool, error) {
	consumers := map[string]jetstream.Consumer{}
	return func() (bool, error) {
		for _, p := range projections.Projectors() {
			c, ok := consumers[p.Name]
			if !ok {
				var err error
				if c, err = s.app.Platform.JetStream.Consumer(ctx, app.FeedStream, p.Name); err != nil {
					return false, err
				}
				consumers[p.Name] = c
			}
			info, err := c.Info(ctx)
			if err != nil {
				return false, err
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return false, nil
			}
		}
		return true, nil
	}
}

// projectorBacklog returns a probe of the most messages any projector has
// pending, delivered or not; -1 when it cannot tell.
func (s *service) projectorBacklog(ctx context.Context) func() int {
	return func() int {
		most := 0
		for _, p := range projections.Projectors() {
			c, err := s.app.Platform.JetStream.Consumer(ctx, app.FeedStream, p.Name)
			if err != nil {
				return -1
			}
			info, err := c.Info(ctx)
			if err != nil {
				return -1
			}
			most = max(most, int(info.NumPending)+info.NumAckPending)
		}
		return most
	}
}

// settle waits, up to limit, until the process is nearly idle.
func settle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c0 := benchkit.ProcessCPU()
		time.Sleep(100 * time.Millisecond)
		if benchkit.ProcessCPU()-c0 < 10*time.Millisecond {
			return
		}
	}
}
