package picture

import (
	"context"
	"errors"
	"time"
)

// ErrBusy: every decode slot stayed taken while an upload waited.
var ErrBusy = errors.New("picture: every decode slot is busy")

// Gate bounds how many pictures this process decodes at once: a decode
// takes up to DecodeBudget of memory and a core, so without a bound
// concurrent uploads multiply both. An upload waits a little for a slot,
// then is refused (ErrBusy) rather than queueing without end.
//
// Per process on purpose, not shared between replicas: it protects this
// process's own CPU and memory, which is what a bound on a replica must
// do; each replica admitting its own few decodes is harmless.
type Gate struct {
	slots chan struct{}
	wait  time.Duration
}

// NewGate admits slots decodes at once, an upload waiting up to wait.
func NewGate(slots int, wait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(slots, 1)), wait: wait}
}

// Enter takes a slot, waiting up to the gate's wait (less if ctx ends
// first); leave gives it back.
func (g *Gate) Enter(ctx context.Context) (leave func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *Gate) leave() { <-g.slots }

// Wait is how long an upload waits for a slot: about when to try again.
func (g *Gate) Wait() time.Duration { return g.wait }

// Busy is how many slots are taken.
func (g *Gate) Busy() int { return len(g.slots) }
