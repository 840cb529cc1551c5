package main

import (
	"context"
	"strings"
	"testing"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/coord"
)

// A rebuild started while another rebuild of the same read model runs (in
// accountctl or in a replica of the service: the same lease) is refused
// with one line and exit 1, and changes nothing; once that one is done, it
// runs.
func TestRebuildStartedTwiceIsRefused(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{})
	s.register("ada")
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	other := &coord.Lease{Coord: coord.New(s.app.Platform.JetStream, coord.Options{}), Name: app.RebuildLease("users"), Holder: "another-rebuild"}
	go func() {
		done <- other.TryRun(context.Background(), func(context.Context, uint64) error { close(holding); <-release; return nil })
	}()
	<-holding
	code, out, errOut := s.ctl(t.Context(), "rebuild", "users")
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "already running (another-rebuild)") {
		t.Fatalf("rebuild while another runs: exit %d %q %q", code, out, errOut)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out := s.mustCtl("rebuild", "users"); strings.Contains(out, "already running") {
		t.Fatalf("rebuild after the other: %s", out)
	}
}
