package commands

import (
	"context"
	"errors"
	"time"

	"github.com/accountd/accountd/events"
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

// foldReservation applies one past event of a reservation stream. Pure.
func foldReservation(r Reservation, e events.Recorded) Reservation {
	switch p := e.Payload.(type) {
	case events.UsernameClaimedV1:
		return Reservation{Held: true, Holder: p.UserID, Username: p.Username, ClaimedAt: e.Metadata.Time}
	case events.UsernameReleasedV1:
		return Reservation{}
	}
	return r
}

// heldError: the name is held by someone else (errors.Is ErrUsernameTaken).
type heldError struct{ Reservation }

func (e *heldError) Error() string        { return ErrUsernameTaken.Error() }
func (e *heldError) Is(target error) bool { return target == ErrUsernameTaken }

// claim reserves the name for userID; holding it already changes nothing.
func (r Reservation) claim(name, userID string) ([]events.Payload, error) {
	switch {
	case r.Held && r.Holder == userID:
		return nil, nil
	case r.Held:
		return nil, &heldError{r}
	}
	return []events.Payload{events.UsernameClaimedV1{Username: name, UserID: userID}}, nil
}

// takeOver releases a claim found abandoned by abandonedBy and claims the
// name, in one append; if the claim changed meanwhile, it is a plain claim.
func (r Reservation) takeOver(name, userID, abandonedBy string) ([]events.Payload, error) {
	if !r.Held || r.Holder != abandonedBy {
		return r.claim(name, userID)
	}
	return []events.Payload{
		events.UsernameReleasedV1{Username: r.Username, UserID: r.Holder, Reason: events.ReleaseAbandonedClaim},
		events.UsernameClaimedV1{Username: name, UserID: userID},
	}, nil
}

// release frees the name if userID holds it.
func (r Reservation) release(userID, reason string) ([]events.Payload, error) {
	if !r.Held || r.Holder != userID {
		return nil, nil
	}
	return []events.Payload{events.UsernameReleasedV1{Username: r.Username, UserID: userID, Reason: reason}}, nil
}

func reservationStream(name string) string {
	return events.UsernameStream(validate.CanonicalUsername(name))
}

// claimUsername reserves name for userID. Exactly one of any number of
// concurrent claimants wins. A claim left behind by a crash is taken over.
// It returns the $all position of what it wrote (0: nothing).
func (h *Handlers) claimUsername(ctx context.Context, name, userID string, meta events.Metadata) (uint64, error) {
	stream := reservationStream(name)
	out, err := update(ctx, h, h.reservations, stream, nil, meta, func(r Reservation) ([]events.Payload, error) {
		return r.claim(name, userID)
	})
	var held *heldError
	if !errors.As(err, &held) || meta.Time.Sub(held.ClaimedAt) < abandonedClaimAge {
		return out.Position, err
	}
	abandoned, lerr := h.claimAbandoned(ctx, held.Reservation)
	if lerr != nil {
		return 0, lerr
	}
	if !abandoned {
		return 0, err
	}
	out, err = update(ctx, h, h.reservations, stream, nil, meta, func(r Reservation) ([]events.Payload, error) {
		return r.takeOver(name, userID, held.Holder)
	})
	return out.Position, err
}

// claimAbandoned: the holder's account does not carry the claimed name.
func (h *Handlers) claimAbandoned(ctx context.Context, r Reservation) (bool, error) {
	holder, _, err := h.users.load(ctx, events.UserStream(r.Holder), true)
	if err != nil {
		return false, err
	}
	return validate.CanonicalUsername(holder.Username) != validate.CanonicalUsername(r.Username), nil
}

// releaseUsername frees name if userID holds it. A failure is left for the
// next claimant to reconcile: the name's holder no longer carries it.
func (h *Handlers) releaseUsername(ctx context.Context, name, userID, reason string, meta events.Metadata) uint64 {
	out, err := update(ctx, h, h.reservations, reservationStream(name), nil, meta, func(r Reservation) ([]events.Payload, error) {
		return r.release(userID, reason)
	})
	if err != nil {
		return 0
	}
	return out.Position
}
