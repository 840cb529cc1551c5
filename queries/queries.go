// Package queries serves the read models, one file per query. Queries read
// MongoDB documents by _id only, decode them into the document types of
// package projections, and may first wait until the read models include
// the caller's own latest writes.
package queries

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// ErrNotFound: no such document.
var ErrNotFound = errors.New("not found")

// Consistency is what queries need to show callers their own writes.
type Consistency interface {
	// WaitForCaller blocks until the named projectors have applied
	// everything userID wrote, or ctx ends.
	WaitForCaller(ctx context.Context, userID string, projectors ...string)
	// Changed returns a channel closed the next time any projector advances.
	Changed() <-chan struct{}
}

// Reader runs queries.
type Reader struct {
	db          *mongo.Database
	consistency Consistency
	waitFor     time.Duration
	collections func(string) string
	keys        Opener
	erased      error
	standings   Standings
}

// Collections maps a read model's collection name to the physical one
// live now (after rebuilds); nil: the names as they are.
func (r *Reader) Collections(physical func(string) string) { r.collections = physical }

// NewReader reads db. consistency may be nil (no read-your-writes); waitFor
// bounds how long a query waits for the caller's writes before it answers
// with what there is.
func NewReader(db *mongo.Database, consistency Consistency, waitFor time.Duration) *Reader {
	if waitFor <= 0 {
		waitFor = 2 * time.Second
	}
	return &Reader{db: db, consistency: consistency, waitFor: waitFor}
}

// bounded limits how long a query waits for the read models.
func (r *Reader) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.waitFor)
}

// waitForCaller waits, within bounds, until the projectors include the
// caller's own writes.
func (r *Reader) waitForCaller(ctx context.Context, userID string, projectors ...string) {
	if r.consistency == nil || userID == "" {
		return
	}
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	r.consistency.WaitForCaller(ctx, userID, projectors...)
}

// findByID reads one document.
func (r *Reader) findByID(ctx context.Context, collection, id string, out any) error {
	if r.collections != nil {
		collection = r.collections(collection)
	}
	err := r.db.Collection(collection).FindOne(ctx, bson.M{"_id": id}).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ErrNotFound
	}
	return err
}
