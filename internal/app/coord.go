package app

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/web"
)

// openCoord opens what replicas share beyond the log (leases, limits,
// short-lived console state) on the NATS the service runs with, embedded
// or external: one Coord per process.
func (a *App) openCoord(context.Context) error {
	a.Coord = coord.New(a.Platform.JetStream, coord.Options{Replicas: CoordReplicas(a.Platform.NATS)})
	a.log.Info("replica", "replica_id", a.ReplicaID)
	return nil
}

// CoordReplicas is how many copies each coordination bucket and the event
// feed keep: three on a cluster of three or more servers (one may fail),
// else one. Tools creating buckets (accountctl) use it too.
func CoordReplicas(nc *nats.Conn) int {
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
	aead, err := a.sealer("console-state")
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

// Leases of the background jobs: one replica runs each at a time.
const (
	leaseRetention = "job-audit-retention"
	leaseErasure   = "job-erasure"
	leaseReminders = "job-reminders"
	leaseMailer    = "job-mailer"
)

// RebuildLease is the lease a rebuild of the named read model holds, in
// the service and in accountctl: a rebuild started while another runs is
// refused (accountctl) or waits (a replica at start).
func RebuildLease(projector string) string { return "rebuild-" + projector }

// leased runs work on one replica at a time under the named lease: the
// others wait, and one of them takes over within the lease's time to live
// when the holder stops or dies.
func (a *App) leased(name string, work func(ctx context.Context) error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		l := &coord.Lease{Coord: a.Coord, Name: name, Holder: a.ReplicaID, Logger: a.log}
		return l.Run(ctx, func(ctx context.Context, _ uint64) error { return work(ctx) })
	}
}

// mailClaimTTL: a mail claimed by a replica that crashed before recording
// it as sent is sent again this long after (at most once more, never
// lost); longer than a send, and than the outbox read model takes to drop
// a mail recorded as sent.
const mailClaimTTL = time.Minute

// mailClaims are the outbox mails being sent, shared by replicas.
func (a *App) mailClaims(ctx context.Context) (*coord.Store, error) {
	aead, err := a.sealer("mail-claims")
	if err != nil {
		return nil, err
	}
	return a.Coord.Store(ctx, "mail-claims", mailClaimTTL, aead)
}

// sealer is AES-GCM under a key derived from the secret key for purpose:
// every replica derives the same.
func (a *App) sealer(purpose string) (cipher.AEAD, error) {
	key, err := a.Keys.Derive(purpose)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
