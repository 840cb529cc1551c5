// Package sharedlimits implements commands.Limits on the coordination
// store (JetStream KV): every replica counts in the same buckets, so a
// limit of N allows N in total, not N per replica.
package sharedlimits

import (
	"context"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/coord"
)

// Limits are limits shared through c. State: shared (KV buckets, keys
// hashed so no username or address shows in NATS).
type Limits struct {
	coord *coord.Coord
	now   func() time.Time
}

// New returns limits shared through c, on the clock now (nil: time.Now).
func New(c *coord.Coord, now func() time.Time) *Limits {
	return &Limits{coord: c, now: now}
}

// Limiter implements commands.Limits.
func (l *Limits) Limiter(ctx context.Context, name string, r commands.Rate) (commands.Limiter, error) {
	return l.coord.Limiter(ctx, name, r.Burst, r.Every, l.now)
}
