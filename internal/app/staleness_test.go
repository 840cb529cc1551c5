package app

import (
	"testing"
	"time"
)

func TestHeadProbesStaleness(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type probe struct {
		at   int
		head uint64
	}
	tests := []struct {
		name    string
		probes  []probe
		now     int
		applied uint64
		want    time.Duration
	}{
		{"no probe yet: as old as the start", nil, 300, 0, 300 * time.Millisecond},
		{"idle log, index at the head", []probe{{0, 10}, {250, 10}, {500, 10}}, 510, 10, 10 * time.Millisecond},
		{"index behind every probe", []probe{{250, 20}, {500, 30}}, 600, 10, 600 * time.Millisecond},
		{"index has the first probe's head", []probe{{250, 20}, {500, 30}}, 600, 25, 350 * time.Millisecond},
		{"failed probes: ages from the last one applied", []probe{{250, 20}}, 2000, 20, 1750 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newHeadProbes(t0)
			for _, pr := range tt.probes {
				p.probe(ms(pr.at), pr.head)
			}
			if got := p.staleness(ms(tt.now), tt.applied); got != tt.want {
				t.Fatalf("staleness %s, want %s", got, tt.want)
			}
		})
	}
}
