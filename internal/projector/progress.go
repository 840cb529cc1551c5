package projector

import (
	"context"
	"sync"
)

// Progress tracks how far each projector has applied the log, so a query
// can wait until the caller's own write is visible (read your writes).
type Progress struct {
	mu      sync.Mutex
	applied map[string]uint64
	changed chan struct{}
}

// NewProgress returns an empty tracker.
func NewProgress() *Progress {
	return &Progress{applied: map[string]uint64{}, changed: make(chan struct{})}
}

// Advance records that projector has applied every event of its categories
// up to position.
func (p *Progress) Advance(projector string, position uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if position <= p.applied[projector] {
		return
	}
	p.applied[projector] = position
	close(p.changed)
	p.changed = make(chan struct{})
}

// Applied is the projector's position.
func (p *Progress) Applied(projector string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied[projector]
}

// Changed returns a channel closed the next time any projector advances.
func (p *Progress) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Wait blocks until projector reaches position or ctx ends.
func (p *Progress) Wait(ctx context.Context, projector string, position uint64) error {
	for {
		p.mu.Lock()
		reached, changed := p.applied[projector] >= position, p.changed
		p.mu.Unlock()
		if reached {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
