// Package projections turns the event log into MongoDB read models. Each
// projector is a pure reduce step (event -> writes), table-tested without a
// database, run by an executor that applies a batch of writes and only then
// acknowledges (checkpoints) the messages it covered.
package projections

import (
	"fmt"
	"maps"

	"github.com/accountd/accountd/events"
)

// Collection names the queries read.
const (
	UsersCollection     = "users"
	UsernamesCollection = "usernames"
	ParkedCollection    = "parked"
)

// VersionField guards every read-model document: a write applies only if
// the stored version is lower, so redelivered events change nothing.
const VersionField = "_v"

// Write sets fields of one document, if its version is below Version.
type Write struct {
	Collection string
	ID         string
	Version    uint64
	Set        map[string]any
}

// Projector is one read model's reduce step.
type Projector struct {
	// Name is also the durable consumer's name.
	Name string
	// Categories are the stream categories it reads.
	Categories []string
	// Reduce maps one event to its writes. It must be pure: no I/O, no
	// clock; it errors on events it cannot read, which are then parked.
	Reduce func(events.Envelope) ([]Write, error)
}

// Coalesce merges writes to the same document, in order, so a burst of
// events for one document becomes one write.
func Coalesce(writes []Write) []Write {
	type key struct{ collection, id string }
	index := map[key]int{}
	var out []Write
	for _, w := range writes {
		k := key{w.Collection, w.ID}
		i, ok := index[k]
		if !ok {
			index[k] = len(out)
			out = append(out, Write{Collection: w.Collection, ID: w.ID, Version: w.Version, Set: maps.Clone(w.Set)})
			continue
		}
		if w.Version < out[i].Version {
			continue // an older event redelivered within the batch
		}
		maps.Copy(out[i].Set, w.Set)
		out[i].Version = w.Version
	}
	return out
}

// Projectors returns the service's read models.
func Projectors() []Projector {
	return []Projector{UsersProjector(), UsernamesProjector()}
}

func unreadable(e events.Envelope, err error) error {
	return fmt.Errorf("%s at %s@%d: %w", e.Type, e.Stream, e.Revision, err)
}
