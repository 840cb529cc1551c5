package app

import (
	"context"
	"sync"
	"time"

	"github.com/accountd/accountd/internal/eventlog"
)

// awaitCredentials waits, within the read-your-writes budget, until the
// credential index has applied the log's head as it stands now (read for
// this call, or by a read that began after the call did) and position (a
// consistency token; 0: none). The API and the console call it for a
// credential the index does not know: on a replica behind the one that
// issued it a moment ago, it is then known, or the request gets a 503 to
// retry instead of a sign-out. With the index current it costs one read
// of the head, shared by the requests that ask at the same time.
func (a *App) awaitCredentials(ctx context.Context, position uint64) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ReadYourWritesTimeout)
	defer cancel()
	head, err := a.heads.readAfter(ctx, time.Now())
	if err != nil {
		return err
	}
	return a.Principals.WaitPosition(ctx, max(head, position))
}

// headReader reads the log's head on demand, one read at a time: a caller
// shares a read in flight if it began no earlier than the caller asked
// (so it sees every write acknowledged before), else starts one. Many
// unknown credentials at once cost one read, not one each. Per process,
// and harmless: it holds no state beyond the read in flight.
type headReader struct {
	read    func(ctx context.Context) (uint64, error)
	timeout time.Duration // of one read

	mu     sync.Mutex
	flight *headRead // nil: none
}

type headRead struct {
	began time.Time
	done  chan struct{}
	head  uint64
	err   error
}

// readAfter is the head read by a read that began at since or later.
func (h *headReader) readAfter(ctx context.Context, since time.Time) (uint64, error) {
	h.mu.Lock()
	f := h.flight
	if f == nil || f.began.Before(since) {
		f = &headRead{began: time.Now(), done: make(chan struct{})}
		h.flight = f
		go func() {
			readCtx, cancel := context.WithTimeout(context.Background(), h.timeout)
			f.head, f.err = h.read(readCtx)
			cancel()
			close(f.done)
			h.mu.Lock()
			if h.flight == f {
				h.flight = nil
			}
			h.mu.Unlock()
		}()
	}
	h.mu.Unlock()
	select {
	case <-f.done:
		return f.head, f.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// newHeadReader reads the head of the app's event log.
func (a *App) newHeadReader() *headReader {
	return &headReader{timeout: a.cfg.ReadYourWritesTimeout, read: func(ctx context.Context) (uint64, error) {
		head, _, err := eventlog.Head(ctx, a.Platform.ESDB)
		return head, err
	}}
}
