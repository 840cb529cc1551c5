package app

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/web"
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

// consoleState opens the console's short-lived state in the coordination
// store: shared by replicas, so the page after a form (a new token shown
// once) and a recent password confirmation work whichever replica serves
// the next request; sealed with a key derived from the secret key (every
// replica has it), so a secret in a flash never rests in NATS in clear.
func (a *App) consoleState(ctx context.Context) (flashes, confirmations web.StateStore, err error) {
	key, err := a.Keys.Derive("console-state")
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	f, err := a.Coord.Store(ctx, "console-flashes", web.FlashTTL, aead)
	if err != nil {
		return nil, nil, err
	}
	c, err := a.Coord.Store(ctx, "console-confirmations", web.ReauthTTL, aead)
	if err != nil {
		return nil, nil, err
	}
	return f, c, nil
}
