package queries

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
)

// Opener opens personal values sealed with an account's data key
// (keystore.Store); an erased account's values are ErrErased.
type Opener interface {
	Open(ctx context.Context, owner, aad, value string) (string, error)
}

// Keys makes the reader open the personal values audit entries keep sealed.
func (r *Reader) Keys(keys Opener, erased error) {
	r.keys, r.erased = keys, erased
}

// OpenAuditEntry opens the sealed values of an entry's changes and
// details: the audit log keeps them as the log does, so erasing an
// account's key erases them here too. An erased change is "" and marked
// Erased; an erased detail is "" and named in ErasedDetails.
func OpenAuditEntry(ctx context.Context, keys Opener, erased error, account string, e projections.AuditEntry) (projections.AuditEntry, error) {
	if keys == nil {
		return e, nil
	}
	var details map[string]string
	for k, v := range e.Details {
		if !events.Sealed(v) {
			continue
		}
		if details == nil {
			details = maps.Clone(e.Details)
		}
		plain, err := keys.Open(ctx, account, projections.AuditDetailAAD(account, e, k), v)
		if erased != nil && errors.Is(err, erased) {
			plain, err = "", nil
			e.ErasedDetails = append(e.ErasedDetails, k)
		}
		if err != nil {
			return e, err
		}
		details[k] = plain
	}
	if details != nil {
		e.Details = details
		slices.Sort(e.ErasedDetails)
	}
	var changes []projections.AuditChange
	for i, c := range e.Changes {
		if !events.Sealed(c.From) && !events.Sealed(c.To) {
			continue
		}
		if changes == nil {
			changes = append([]projections.AuditChange(nil), e.Changes...)
		}
		for _, v := range []struct {
			value *string
			aad   string
		}{{&changes[i].From, events.ProfileAAD(account, "previous."+c.Field)}, {&changes[i].To, events.ProfileAAD(account, c.Field)}} {
			if !events.Sealed(*v.value) {
				continue
			}
			plain, err := keys.Open(ctx, account, v.aad, *v.value)
			if erased != nil && errors.Is(err, erased) {
				plain, changes[i].Erased, err = "", true, nil
			}
			if err != nil {
				return e, err
			}
			*v.value = plain
		}
	}
	if changes != nil {
		e.Changes = changes
	}
	return e, nil
}
