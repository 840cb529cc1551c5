// Package projections holds the read models: the document types that both
// the projection and the queries use (field names declared once, in their
// bson tags), and for each read model a pure reduce step (event -> writes),
// table-tested without a database. The runtime that feeds them from the
// message bus and applies their writes is internal/projector.
package projections

import (
	"fmt"
	"maps"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/events"
)

// Collection names.
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
	// Name is also the durable consumer's name: renaming it replays the
	// whole log into the read model.
	Name string
	// Categories are the stream categories it reads.
	Categories []string
	// Collections are the collections it writes.
	Collections []string
	// Reduce maps one event to its writes. It must be pure: no I/O, no
	// clock. Events of its categories it has no use for give no writes.
	Reduce func(events.Recorded) ([]Write, error)
}

// Projectors returns the service's read models.
func Projectors() []Projector {
	return []Projector{UsersProjector(), UsernamesProjector()}
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

// fields is a partial document's set fields, by their bson names: the
// document types are the one place read-model field names are declared.
func fields(partial any) (map[string]any, error) {
	raw, err := bson.Marshal(partial)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := bson.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func write(collection, id string, version uint64, partial any) ([]Write, error) {
	set, err := fields(partial)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", collection, id, err)
	}
	return []Write{{Collection: collection, ID: id, Version: version, Set: set}}, nil
}
