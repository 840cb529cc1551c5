package coord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// checkpointBucket holds, per read-model consumer, the highest log position
// its executor has applied (written after the documents it covers). No
// TTL: a checkpoint is true until a newer one replaces it.
const checkpointBucket = "checkpoints"

// Checkpoints records and follows read models' checkpoints, so that every
// replica knows how far each read model has come, whichever replica
// applies it.
type Checkpoints struct {
	kv jetstream.KeyValue

	mu   sync.Mutex
	revs map[string]uint64 // the revision last written or read, per consumer
}

// Checkpoints opens the checkpoints bucket.
func (c *Coord) Checkpoints(ctx context.Context) (*Checkpoints, error) {
	kv, err := c.bucket(ctx, checkpointBucket, 0)
	if err != nil {
		return nil, err
	}
	return &Checkpoints{kv: kv, revs: map[string]uint64{}}, nil
}

// Record sets consumer's checkpoint to position unless it is there already
// or further: compare-and-set, so it never moves back (an executor that
// lost its pin may still be finishing an older batch).
func (k *Checkpoints) Record(ctx context.Context, consumer string, position uint64) error {
	value := []byte(strconv.FormatUint(position, 10))
	for range 5 {
		k.mu.Lock()
		rev, known := k.revs[consumer]
		k.mu.Unlock()
		var next uint64
		var err error
		if known {
			next, err = k.kv.Update(ctx, consumer, value, rev)
		} else {
			next, err = k.kv.Create(ctx, consumer, value)
		}
		if err == nil {
			k.mu.Lock()
			k.revs[consumer] = next
			k.mu.Unlock()
			return nil
		}
		if !conflict(err) {
			return err
		}
		// Written elsewhere since: see where it is.
		e, err := k.kv.Get(ctx, consumer)
		k.mu.Lock()
		switch {
		case absent(err):
			delete(k.revs, consumer)
		case err == nil:
			k.revs[consumer] = e.Revision()
		}
		k.mu.Unlock()
		if err != nil && !absent(err) {
			return err
		}
		if err == nil {
			if stored, perr := strconv.ParseUint(string(e.Value()), 10, 64); perr == nil && stored >= position {
				return nil
			}
		}
	}
	return fmt.Errorf("checkpoint of %s: contended", consumer)
}

// Watch calls seen with every checkpoint now recorded, then with each as it
// moves, until ctx ends (nil) or the watch fails.
func (k *Checkpoints) Watch(ctx context.Context, seen func(consumer string, position uint64)) error {
	w, err := k.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch checkpoints: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the checkpoints watch ended")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // nil: the recorded ones were all seen
			}
			if pos, err := strconv.ParseUint(string(e.Value()), 10, 64); err == nil {
				seen(e.Key(), pos)
			}
		}
	}
}
