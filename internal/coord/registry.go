package coord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Registry is a bucket where each replica publishes a value about itself
// (what it runs with), renewed more often than the bucket's time to live,
// so a replica that stops is gone from it within the TTL. Values are in
// clear: publish nothing secret (hashes of settings, not the settings).
type Registry struct {
	kv jetstream.KeyValue
}

// Registry returns the registry called name (bucket accountd_<name>),
// whose entries expire ttl after their last Put.
func (c *Coord) Registry(ctx context.Context, name string, ttl time.Duration) (*Registry, error) {
	if !validName(name) {
		return nil, fmt.Errorf("registry name %q: use 1-64 letters, digits, '-' or '_'", name)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("registry %s: needs a time to live", name)
	}
	kv, err := c.bucket(ctx, name, ttl)
	if err != nil {
		return nil, err
	}
	return &Registry{kv: kv}, nil
}

// Put publishes (or renews) member's value.
func (r *Registry) Put(ctx context.Context, member string, value []byte) error {
	_, err := r.kv.Put(ctx, Key(member), value)
	return err
}

// Delete withdraws member's value (a replica stopping).
func (r *Registry) Delete(ctx context.Context, member string) error {
	err := r.kv.Delete(ctx, Key(member))
	if absent(err) {
		return nil
	}
	return err
}

// All returns every live value (in no particular order).
func (r *Registry) All(ctx context.Context) ([][]byte, error) {
	keys, err := r.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for k := range keys.Keys() {
		e, err := r.kv.Get(ctx, k)
		if absent(err) {
			continue // expired or withdrawn meanwhile
		}
		if err != nil {
			_ = keys.Stop()
			return nil, err
		}
		out = append(out, e.Value())
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, ctx.Err()
	}
	return out, nil
}
