package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/accountd/accountd/internal/coord"
)

// openCoord opens what replicas share beyond the log (leases, limits,
// short-lived console state) on the NATS the service runs with, embedded
// or external: one Coord per process.
func (a *App) openCoord(context.Context) error {
	a.Coord = coord.New(a.Platform.JetStream, coord.Options{Replicas: coordReplicas(a.Platform.NATS)})
	a.log.Info("replica", "replica_id", a.ReplicaID)
	return nil
}

// coordReplicas is how many copies each coordination bucket keeps: three
// on a cluster of three or more servers (one may fail), else one.
func coordReplicas(nc *nats.Conn) int {
	if nc != nil && len(nc.Servers()) >= 3 {
		return 3
	}
	return 1
}

// newReplicaID names this process among the replicas: the host name and 6
// random hex characters, new at every start (a restarted replica is a new
// lease holder).
func newReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "accountd"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}
