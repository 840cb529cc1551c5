package app

import "time"

// headProbes measures how stale the credential index is without counting
// events or trusting clocks: every probe records when it read the log's
// head and where the head was; the index is as old as the newest probe
// whose head it has applied. So an idle log costs nothing, and an index
// that stops following ages by wall time, whatever the write rate.
type headProbes struct {
	pending []headProbe // probes whose head the index had not applied, oldest first
	fresh   time.Time   // when the newest probe the index had applied was taken
}

type headProbe struct {
	at   time.Time
	head uint64
}

// newHeadProbes starts as fresh as now (the index has caught up).
func newHeadProbes(now time.Time) *headProbes { return &headProbes{fresh: now} }

// probe records the head read at at (a failed read records nothing: the
// index then ages until a probe succeeds).
func (p *headProbes) probe(at time.Time, head uint64) {
	p.pending = append(p.pending, headProbe{at: at, head: head})
	if len(p.pending) > 1024 { // bounded: an index this far behind is stale anyway
		p.pending = p.pending[1:]
	}
}

// staleness is how long ago the newest probe whose head the index has
// applied (applied: the index's position) was taken.
func (p *headProbes) staleness(now time.Time, applied uint64) time.Duration {
	n := 0
	for n < len(p.pending) && p.pending[n].head <= applied {
		p.fresh = p.pending[n].at
		n++
	}
	p.pending = p.pending[n:]
	return max(now.Sub(p.fresh), 0)
}
