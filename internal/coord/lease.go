package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leaseBucket holds every lease; its TTL is the leases' TTL, so a holder
// that stops renewing loses its lease that long after its last renewal.
const leaseBucket = "leases"

// DefaultLeaseTTL: a crashed holder's work resumes elsewhere within this
// (plus one retry interval); renewals every third of it ride out two lost
// round trips.
const DefaultLeaseTTL = 6 * time.Second

// Lease runs work on one replica at a time. The holder is recorded under
// the lease's name with compare-and-set (Create, then Update with the
// revision it holds); the revision is a fencing token that grows with every
// renewal and every new holder.
type Lease struct {
	Coord  *Coord
	Name   string // what is leased: "relay", "job-erasure"
	Holder string // who asks: the replica's id
	Logger *slog.Logger

	ttl time.Duration
}

// ErrHeld: TryRun found the lease held by another.
var ErrHeld = errors.New("lease held by another")

// TryRun is Run for work that must not wait: when the lease is held by
// another it returns ErrHeld at once (a rebuild started twice is refused);
// else it runs work while holding it, as Run does, and returns work's
// error (ErrLost when the lease was lost meanwhile).
func (l *Lease) TryRun(ctx context.Context, work func(ctx context.Context, fence uint64) error) error {
	kv, err := l.prepare(ctx)
	if err != nil {
		return err
	}
	rev, err := kv.Create(ctx, l.Name, []byte(l.Holder))
	if conflict(err) {
		return ErrHeld
	}
	if err != nil {
		return err
	}
	return l.hold(ctx, kv, rev, work)
}

// prepare checks the lease, takes the store's TTL, and opens the bucket:
// what Run and TryRun do first.
func (l *Lease) prepare(ctx context.Context) (jetstream.KeyValue, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	l.ttl = l.Coord.leaseTTL
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	return l.Coord.bucket(ctx, leaseBucket, l.ttl)
}

// ErrLost: the lease was taken over (this holder failed to renew in time).
var ErrLost = errors.New("lease lost")

func (l *Lease) validate() error {
	var errs []error
	if l.Coord == nil {
		errs = append(errs, errors.New("lease: no coordination store"))
	}
	if !validName(l.Name) {
		errs = append(errs, fmt.Errorf("lease name %q: use 1-64 letters, digits, '-' or '_'", l.Name))
	}
	if l.Holder == "" {
		errs = append(errs, errors.New("lease: a holder id is required"))
	}
	return errors.Join(errs...)
}

// Run waits for the lease, runs work while holding it, and gives it up when
// ctx ends. work's context ends as soon as the lease is lost (or ctx ends);
// when work returns while the lease is held, Run releases it and returns
// work's error. Run returns nil when ctx ends.
func (l *Lease) Run(ctx context.Context, work func(ctx context.Context, fence uint64) error) error {
	kv, err := l.prepare(ctx)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		rev, err := l.acquire(ctx, kv)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		l.Logger.Info("lease acquired", "lease", l.Name, "holder", l.Holder, "fence", rev)
		err = l.hold(ctx, kv, rev, work)
		if errors.Is(err, ErrLost) {
			l.Logger.Warn("lease lost; standing by", "lease", l.Name, "holder", l.Holder)
			continue
		}
		return err
	}
	return nil
}

// acquire takes the lease as soon as nobody holds it: when the holder
// releases it (a watch wakes this at once) or it expires (found by trying
// again every third of the TTL).
func (l *Lease) acquire(ctx context.Context, kv jetstream.KeyValue) (uint64, error) {
	retry := l.ttl / 3
	var released <-chan jetstream.KeyValueEntry
	if w, err := kv.Watch(ctx, l.Name, jetstream.UpdatesOnly()); err == nil {
		defer func() { _ = w.Stop() }()
		released = w.Updates()
	}
	for {
		rev, err := kv.Create(ctx, l.Name, []byte(l.Holder))
		switch {
		case err == nil:
			return rev, nil
		case conflict(err):
			// Held elsewhere: wait for it to be released or to expire.
		case ctx.Err() != nil:
			return 0, ctx.Err()
		default:
			l.Logger.Warn("lease not acquired; retrying", "lease", l.Name, "err", err)
		}
		wait := time.NewTimer(retry)
	waiting:
		for {
			select {
			case <-ctx.Done():
				wait.Stop()
				return 0, ctx.Err()
			case <-wait.C:
				break waiting
			case e, ok := <-released:
				if !ok {
					released = nil // the watch ended: the timer alone
					continue
				}
				if e != nil && e.Operation() != jetstream.KeyValuePut {
					wait.Stop()
					break waiting
				}
			}
		}
	}
}

// hold renews the lease every third of its TTL while work runs.
func (l *Lease) hold(ctx context.Context, kv jetstream.KeyValue, rev uint64, work func(context.Context, uint64) error) error {
	workCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	fence := rev // the work's fence is the revision it started with; rev moves on
	go func() { done <- work(workCtx, fence) }()
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	lastRenewed := time.Now()
	for {
		select {
		case err := <-done:
			l.release(kv, rev)
			return err
		case <-ctx.Done():
			stop()
			<-done
			l.release(kv, rev)
			return nil
		case <-tick.C:
			renewCtx, cancel := context.WithTimeout(ctx, l.ttl/3)
			next, err := kv.Update(renewCtx, l.Name, []byte(l.Holder), rev)
			cancel()
			switch {
			case err == nil:
				rev, lastRenewed = next, time.Now()
			case conflict(err) || absent(err) || time.Since(lastRenewed) >= l.ttl:
				// Taken over, expired, or unreachable for so long that it
				// may have expired: stop before another holder starts.
				stop()
				<-done
				return ErrLost
			default:
				l.Logger.Warn("lease not renewed; retrying", "lease", l.Name, "err", err)
			}
		}
	}
}

// release gives the lease up at once, so a standby need not wait out the
// TTL (a graceful stop hands over in one retry interval).
func (l *Lease) release(kv jetstream.KeyValue, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := kv.Delete(ctx, l.Name, jetstream.LastRevision(rev))
	if conflict(err) {
		// A renewal whose answer was lost (its context ended as the
		// server wrote it) moved the revision on: still ours if it names
		// this holder, which no other lease holder does.
		if e, gerr := kv.Get(ctx, l.Name); gerr == nil && string(e.Value()) == l.Holder {
			err = kv.Delete(ctx, l.Name, jetstream.LastRevision(e.Revision()))
		}
	}
	if err != nil && !conflict(err) {
		l.Logger.Warn("lease not released; it expires", "lease", l.Name, "err", err)
	}
}

// Holder tells who holds a lease now ("" when nobody).
func (c *Coord) Holder(ctx context.Context, name string) (string, error) {
	kv, err := c.bucket(ctx, leaseBucket, c.leaseTTL)
	if err != nil {
		return "", err
	}
	e, err := kv.Get(ctx, name)
	if absent(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}
