package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestQuickRun runs every phase of the command briefly against the real
// embedded servers, to keep it compiling and working; timings are not
// asserted. The throughput window is long enough that a loaded machine
// still completes a command in it.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service and writes to disk")
	}
	logOutput = io.Discard
	cfg, err := parseFlags([]string{
		"--clients=2", "--lag-users=2", "--duration=2s", "--warmup=100ms",
		"--lag-duration=300ms", "--rate=20", "--poll=2ms", "--cheap-hashing", "--settle=10s",
		"--data-dir=" + t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := bench(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	for _, l := range []*loadResult{res.appends, res.patches} {
		if l == nil || l.Errors > 0 || l.Ops == 0 {
			t.Fatalf("throughput phase: %+v", l)
		}
	}
	lag := res.lag
	if lag == nil || lag.Errors > 0 || lag.Commands == 0 {
		t.Fatalf("lag phase: %+v", lag)
	}
	if lag.NotSeen > 0 || lag.NotApplied > 0 || len(lag.Visible) != lag.Commands || len(lag.Applied) != lag.Commands {
		t.Errorf("lag phase: %d commands, %d seen, %d not seen, %d applied, %d not applied",
			lag.Commands, len(lag.Visible), lag.NotSeen, len(lag.Applied), lag.NotApplied)
	}
	for _, d := range res.drains {
		if d.TimedOut || d.Err != nil {
			t.Errorf("catching up after %s: timed out %v, %v", d.After, d.TimedOut, d.Err)
		}
	}
	if len(res.logged) > 0 {
		t.Errorf("the service logged warnings or errors: %+v", res.logged)
	}
	if !strings.Contains(out.String(), "Targets") {
		t.Errorf("no targets table in:\n%s", out.String())
	}
}

func TestLagSeq(t *testing.T) {
	for in, want := range map[string]int{lagNamePrefix + "7": 7, lagNamePrefix + "x": -1, "Bench Client 1 No 2": -1, "": -1} {
		if got := lagSeq(in); got != want {
			t.Errorf("lagSeq(%q) = %d, want %d", in, got, want)
		}
	}
}
