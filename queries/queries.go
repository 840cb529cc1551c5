// Package queries serves read models, one file per query. Queries read
// MongoDB documents by _id only, and may first wait until the read models
// include the caller's own latest write.
package queries

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/projections"
)

// ErrNotFound: no such document.
var ErrNotFound = errors.New("not found")

// Reader runs queries.
type Reader struct {
	db       *mongo.Database
	progress *projections.Progress
}

// NewReader reads db; progress may be nil (no read-your-writes waiting).
func NewReader(db *mongo.Database, progress *projections.Progress) *Reader {
	return &Reader{db: db, progress: progress}
}

// Seen is what a caller has written and must see: for each projector, the
// $all position of the caller's latest event it projects.
type Seen map[string]uint64

// wait blocks until the read models include the caller's writes, or ctx
// (bounded by the caller) ends; then the query answers with what there is.
func (r *Reader) wait(ctx context.Context, seen Seen, projectors ...string) {
	if r.progress == nil {
		return
	}
	for _, p := range projectors {
		if pos := seen[p]; pos > 0 {
			if r.progress.Wait(ctx, p, pos) != nil {
				return
			}
		}
	}
}

// findByID reads one document, only the given fields if any are named.
func (r *Reader) findByID(ctx context.Context, collection, id string, out any, fields ...string) error {
	opts := options.FindOne()
	if len(fields) > 0 {
		projection := bson.M{"_id": 0}
		for _, f := range fields {
			projection[f] = 1
		}
		opts.SetProjection(projection)
	}
	err := r.db.Collection(collection).FindOne(ctx, bson.M{"_id": id}, opts).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ErrNotFound
	}
	return err
}
