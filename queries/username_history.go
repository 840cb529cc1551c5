package queries

import (
	"context"
	"errors"
	"strings"

	"github.com/accountd/accountd/projections"
)

// UsernameHistory lists every holding of a name, oldest first (names
// compare case-insensitively).
func (r *Reader) UsernameHistory(ctx context.Context, callerID, username string) ([]projections.Holding, error) {
	r.waitForCaller(ctx, callerID, projections.UsernameHistoryProjector().Name)
	var doc projections.UsernameHistoryDoc
	if err := r.findByID(ctx, projections.UsernameHistoryCollection, strings.ToLower(username), &doc); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return doc.HoldingsInOrder(), nil
}
