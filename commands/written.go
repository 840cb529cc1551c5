package commands

import (
	"context"
	"sync/atomic"
)

// Written collects the $all position of the last event the commands of one
// request wrote: the consistency token its response carries, which a later
// read sends back to be answered from read models that include it, on any
// replica.
type Written struct{ position atomic.Uint64 }

type writtenKey struct{}

// WithWritten returns a context whose commands record what they write in
// the returned Written.
func WithWritten(ctx context.Context) (context.Context, *Written) {
	w := &Written{}
	return context.WithValue(ctx, writtenKey{}, w), w
}

// Position is the $all position of the last event written (0: none).
func (w *Written) Position() uint64 { return w.position.Load() }

// noteWritten records an append made under ctx.
func noteWritten(ctx context.Context, position uint64) {
	w, ok := ctx.Value(writtenKey{}).(*Written)
	if !ok {
		return
	}
	for {
		old := w.position.Load()
		if position <= old || w.position.CompareAndSwap(old, position) {
			return
		}
	}
}
