package queries

import (
	"context"
	"errors"

	"github.com/accountd/accountd/projections"
)

// GetMe reads the user's private profile, first waiting (within bounds) for
// the read model to include the caller's writes and to reach revision
// atLeast of the account, which the caller's credential check knows.
func (r *Reader) GetMe(ctx context.Context, userID string, atLeast uint64) (projections.UserDoc, error) {
	waitCtx, cancel := r.bounded(ctx)
	defer cancel()
	if r.consistency != nil {
		r.consistency.WaitForCaller(waitCtx, userID, projections.UsersProjector().Name)
	}
	for {
		var changed <-chan struct{}
		if r.consistency != nil {
			changed = r.consistency.Changed()
		}
		var doc projections.UserDoc
		err := r.findByID(ctx, projections.UsersCollection, userID, &doc)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return doc, err
		}
		if (err == nil && doc.Revision() >= atLeast) || changed == nil {
			return doc, err
		}
		select {
		case <-changed:
		case <-waitCtx.Done():
			if ctx.Err() != nil {
				return doc, ctx.Err()
			}
			return doc, err // the best there is; its ETag says how old
		}
	}
}
