package devcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/devcluster"
)

// TestReplicaFaults runs issue 18's replica-process faults on one cluster
// of three replicas, started at once on empty servers, under a steady load
// of mixed commands and reads: each fault is a subtest, and each ends with
// every acknowledged write still there.
func TestReplicaFaults(t *testing.T) {
	buildFirst(t)
	started := time.Now()
	// A guard against hangs, not a speed check.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c := startCluster(t, ctx, devcluster.Options{Replicas: 3, ReplicaArgs: loadReplicaArgs, Keep: os.Getenv("DEVCLUSTER_KEEP") != ""})
	t.Logf("cluster directory %s", c.Dir())
	t.Logf("cluster of 3 replicas started in %s", time.Since(started).Round(time.Millisecond))

	t.Run("three replicas started at once: all ready, one relay, one holder per projector", func(t *testing.T) {
		for i := range c.Replicas() {
			rep, err := readyz(ctx, c, i)
			if err != nil || !rep.Ready {
				t.Fatalf("%s: ready %v, %v", c.Replica(i).Name(), rep.Ready, err)
			}
		}
		l := startLoad(t, ctx, 2, func() string { return c.ProxyURL() })
		// Every projector gets its pin with its first message.
		h := map[string][]int{}
		eventually(t, ctx, func() error {
			var err error
			if h, err = holders(ctx, c); err != nil {
				return err
			}
			for name, held := range h {
				if len(held) != 1 {
					return fmt.Errorf("%s held by replicas %v", name, held)
				}
			}
			if len(h["relay"]) != 1 || len(h["projector/users"]) != 1 || len(h["projector/tokens"]) != 1 {
				return fmt.Errorf("holders %v", h)
			}
			return nil
		})
		l.stop()
		t.Logf("holders: %v; load: %s", h, l.Report())
		if n := l.Total(kindStale) + l.Total(kindUnexpected) + l.Total(kindUnavail); n != 0 {
			t.Errorf("%d failed requests without a fault", n)
		}
		l.checkAcknowledged(t, ctx, runningReplicas(c))
	})
	t.Logf("done %s after the start", time.Since(started).Round(time.Millisecond))
	verifyAll(t, ctx, c)
	t.Logf("verified %s after the start", time.Since(started).Round(time.Millisecond))
	_ = slices.Sort[[]int]
	_ = strings.Contains
	_ = http.MethodGet
}
