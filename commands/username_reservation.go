package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/validate"
)

// A claim whose holder never finished the rename or registration it was
// for (the service crashed in between) is released by the next claimant
// once it is this old. A real rename completes within milliseconds.
const abandonedClaimAge = 10 * time.Second

// Reservation is the state of one username-<name> stream.
type Reservation struct {
	Held      bool
	Holder    string // user id
	Username  string // as typed by the holder
	ClaimedAt time.Time
}

// FoldReservation applies one past event of a reservation stream. Pure.
func FoldReservation(r Reservation, e eventlog.Recorded) (Reservation, error) {
	switch e.Type {
	case events.UsernameClaimed:
		var p events.UsernameClaimedV1
		if err := json.Unmarshal(e.Data, &p); err != nil {
			return r, fmt.Errorf("%s: %w", e.Type, err)
		}
		return Reservation{Held: true, Holder: p.UserID, Username: p.Username, ClaimedAt: e.Metadata.Time}, nil
	case events.UsernameReleased:
		return Reservation{}, nil
	}
	return r, nil
}

// claimUsername reserves name for userID. Exactly one of any number of
// concurrent claimants wins: each appends with the revision it read.
// It returns the $all position of what it wrote (0: nothing).
func (h *Handlers) claimUsername(ctx context.Context, name, userID string, meta events.Metadata) (uint64, error) {
	stream := events.UsernameStream(validate.CanonicalUsername(name))
	for attempt := 0; attempt < 3; attempt++ {
		r, version, err := h.reservations.Load(ctx, stream, attempt > 0)
		if err != nil {
			return 0, err
		}
		if r.Held && r.Holder == userID {
			return 0, nil // already ours: a retried request
		}
		if r.Held {
			abandoned, err := h.claimAbandoned(ctx, r, meta.Time)
			if err != nil {
				return 0, err
			}
			if !abandoned {
				return 0, ErrUsernameTaken
			}
			res, err := h.reservations.Append(ctx, stream, version, r, meta, eventlog.NewEvent{
				Type: events.UsernameReleased,
				Data: events.UsernameReleasedV1{Username: r.Username, UserID: r.Holder, Reason: events.ReleaseAbandonedClaim},
			})
			if errors.Is(err, eventlog.ErrWrongExpectedVersion) {
				continue
			}
			if err != nil {
				return 0, err
			}
			version = eventlog.Version(res.Revision)
			r = Reservation{}
		}
		res, err := h.reservations.Append(ctx, stream, version, r, meta, eventlog.NewEvent{
			Type: events.UsernameClaimed,
			Data: events.UsernameClaimedV1{Username: name, UserID: userID},
		})
		if errors.Is(err, eventlog.ErrWrongExpectedVersion) {
			continue // someone else moved first: look again
		}
		return res.Position, err
	}
	return 0, ErrUsernameTaken
}

// claimAbandoned: the holder's account does not carry the name, and the
// claim is too old to belong to a request still in flight.
func (h *Handlers) claimAbandoned(ctx context.Context, r Reservation, now time.Time) (bool, error) {
	if now.Sub(r.ClaimedAt) < abandonedClaimAge {
		return false, nil
	}
	holder, _, err := h.users.Load(ctx, events.UserStream(r.Holder), true)
	if err != nil {
		return false, err
	}
	return validate.CanonicalUsername(holder.Username) != validate.CanonicalUsername(r.Username), nil
}

// releaseUsername frees name if userID holds it. Failures are left for the
// next claimant to reconcile: the name's holder no longer carries it.
func (h *Handlers) releaseUsername(ctx context.Context, name, userID, reason string, meta events.Metadata) (uint64, error) {
	stream := events.UsernameStream(validate.CanonicalUsername(name))
	for attempt := 0; attempt < 3; attempt++ {
		r, version, err := h.reservations.Load(ctx, stream, attempt > 0)
		if err != nil {
			return 0, err
		}
		if !r.Held || r.Holder != userID {
			return 0, nil
		}
		res, err := h.reservations.Append(ctx, stream, version, r, meta, eventlog.NewEvent{
			Type: events.UsernameReleased,
			Data: events.UsernameReleasedV1{Username: r.Username, UserID: userID, Reason: reason},
		})
		if errors.Is(err, eventlog.ErrWrongExpectedVersion) {
			continue
		}
		return res.Position, err
	}
	return 0, eventlog.ErrWrongExpectedVersion
}

// HolderOf returns the user id that currently carries name, or "".
func (h *Handlers) HolderOf(ctx context.Context, name string) (string, error) {
	r, _, err := h.reservations.Load(ctx, events.UsernameStream(validate.CanonicalUsername(name)), true)
	if err != nil || !r.Held {
		return "", err
	}
	holder, _, err := h.users.Load(ctx, events.UserStream(r.Holder), false)
	if err != nil {
		return "", err
	}
	if validate.CanonicalUsername(holder.Username) != validate.CanonicalUsername(name) {
		holder, _, err = h.users.Load(ctx, events.UserStream(r.Holder), true)
		if err != nil || validate.CanonicalUsername(holder.Username) != validate.CanonicalUsername(name) {
			return "", err
		}
	}
	return r.Holder, nil
}
