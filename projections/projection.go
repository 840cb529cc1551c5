// Package projections holds the read models: the document types that both
// the projection and the queries use (field names declared once, in their
// bson tags), and for each read model a pure reduce step (event -> writes),
// table-tested without a database. The runtime that feeds them from the
// message bus and applies their writes is internal/projector.
package projections

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/events"
)

// Collection names.
const (
	UsersCollection     = "users"
	UsernamesCollection = "usernames"
	SessionsCollection  = "user_sessions"
	TokensCollection    = "user_tokens"
	ParkedCollection    = "parked"
)

// VersionField guards every read-model document: a write applies only if
// the stored version is lower, so redelivered events change nothing.
const VersionField = "_v"

// Write sets fields of one document, if its version is below Version.
// Keys may be dotted paths into sub-documents; a Removal value removes the
// field (or sub-document) instead.
type Write struct {
	Collection string
	ID         string
	Version    uint64
	Set        map[string]any
	// Append, instead of Set, adds an entry to the log whose index
	// document this is (an append-only log kept in bounded buckets).
	Append *Append
}

// Append adds Value as entries.<Key> of the log's newest bucket document
// (collection Buckets, _id "<index id>:<sequence>"), starting a new bucket
// once one holds PerBucket entries. The index document keeps the newest
// bucket's sequence ("seq") and fill ("count"), and as its version the
// newest entry's: an entry at or below it is a redelivery and skipped, and
// a redelivered entry lands in the same bucket under the same key.
type Append struct {
	Buckets   string
	Key       string
	Value     map[string]any
	PerBucket int
}

// Removal, as a value of Write.Set, removes the field.
type Removal struct{}

// Projector is one read model's reduce step.
type Projector struct {
	// Name is also the durable consumer's name: renaming it replays the
	// whole log into the read model.
	Name string
	// Version of the projection code; raising it makes the service rebuild
	// the read model in the background at start (0 counts as 1).
	Version int
	// Categories are the stream categories it reads.
	Categories []string
	// Collections are the collections it writes.
	Collections []string
	// Personal: the projector needs events' personal fields in plaintext
	// (its read model is erased with the account); the executor opens them
	// before Reduce. Other projectors see them sealed.
	Personal bool
	// Reduce maps one event to its writes. It must be pure: no I/O, no
	// clock. Events of its categories it has no use for give no writes.
	Reduce func(events.Recorded) ([]Write, error)
}

// Projectors returns the service's read models.
func Projectors() []Projector {
	return []Projector{UsersProjector(), UsernamesProjector(), SessionsProjector(), TokensProjector(), AuditProjector(), UsernameHistoryProjector(),
		CredentialsProjector(), NotificationsProjector(), OutboxProjector()}
}

// Coalesce merges writes to the same document, in order, so a burst of
// events for one document becomes one write.
func Coalesce(writes []Write) []Write {
	type key struct{ collection, id string }
	index := map[key]int{}
	var out []Write
	for _, w := range writes {
		if w.Append != nil {
			out = append(out, w) // appends keep their order; the executor groups them
			continue
		}
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
		for k, v := range w.Set {
			// A path replaces what it overlaps: a removed sub-document's
			// fields, or the removal of a parent it sets again.
			for existing := range out[i].Set {
				if overlaps(existing, k) {
					delete(out[i].Set, existing)
				}
			}
			out[i].Set[k] = v
		}
		out[i].Version = w.Version
	}
	return out
}

// overlaps: one dotted path is the other or lies inside it.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// under prefixes every key of a partial sub-document's fields with path.
func under(path string, partial any) (map[string]any, error) {
	set, err := fields(partial)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(set))
	for k, v := range set {
		out[path+"."+k] = v
	}
	return out, nil
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

// stamp is how read models store times: RFC 3339 in UTC.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Time reads a stored time ("" is the zero time).
func Time(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
