package queries

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/accountd/accountd/projections"
)

// Session is one live session of a user.
type Session struct {
	ID string
	projections.SessionDoc
}

// ListSessions lists the user's live sessions at now, newest first.
func (r *Reader) ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	r.waitForCaller(ctx, userID, projections.SessionsProjector().Name)
	var doc projections.UserSessionsDoc
	if err := r.findByID(ctx, projections.SessionsCollection, userID, &doc); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out := []Session{}
	for id, s := range doc.Sessions {
		if now.Before(projections.Time(s.ExpiresAt)) {
			out = append(out, Session{ID: id, SessionDoc: s})
		}
	}
	slices.SortFunc(out, func(a, b Session) int { return cmp.Or(cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}
