package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// ProfileChange names the fields to set; nil leaves a field as it is, and
// an empty string clears it.
type ProfileChange = events.Profile

// UpdateProfile changes profile fields of the signed-in user.
type UpdateProfile struct {
	UserID string
	Change ProfileChange
	// IfMatch is the revision the caller last saw; nil: decide on the
	// latest state, whatever else changed meanwhile.
	IfMatch *uint64
	// ByAdmin: an admin changes another's profile (fields the admin has
	// locked are theirs to change).
	ByAdmin bool
}

// validateProfile checks the given fields by the rules of the field table
// (events.ProfileFields) and returns them in canonical form. A name not in
// the table, or one only an admin may change, is not a profile change.
func validateProfile(c ProfileChange) (events.Profile, []validate.Violation) {
	var vs []validate.Violation
	out := events.Profile{}
	for _, field := range events.ProfileFields {
		v, given := c.Given(field.Name)
		if !given {
			continue
		}
		v, fvs := validField(field, v)
		vs = append(vs, fvs...)
		out[field.Name] = v
	}
	for name := range c {
		if _, ok := events.ProfileFieldNamed(name); !ok {
			vs = append(vs, validate.Violation{Field: name, Code: "field.unknown"})
		}
	}
	return out, vs
}

// validField applies a field's rule; "" (clearing the field) is valid.
func validField(field events.ProfileField, v string) (string, []validate.Violation) {
	rule := field.Rule
	switch {
	case rule.Kind == events.KindText && rule.MultiLine:
		return validate.MultiLine(field.Name, v, rule.MaxLength)
	case rule.Kind == events.KindText:
		return v, validate.SingleLine(field.Name, v, rule.MaxLength)
	case v == "":
		return v, nil
	case rule.Kind == events.KindEmail:
		return v, validate.Email(field.Name, v)
	case rule.Kind == events.KindLanguage:
		return validate.Language(field.Name, v)
	case rule.Kind == events.KindTimezone:
		return v, validate.Timezone(field.Name, v)
	}
	return v, []validate.Violation{{Field: field.Name, Code: "field.unknown"}}
}

// CheckProfile validates a change without applying it (a *ValidationError
// with every violation, or nil): a form that also renames checks both
// before it changes either.
func CheckProfile(change ProfileChange) error {
	_, vs := validateProfile(change)
	return invalid(vs)
}

// handleUpdateProfile records the fields that actually change; an update that
// changes nothing writes nothing.
func (h *Handlers) handleUpdateProfile(ctx context.Context, cmd UpdateProfile, meta events.Metadata) (res UserResult, err error) {
	change, vs := validateProfile(cmd.Change)
	if err := invalid(vs); err != nil {
		return UserResult{}, err
	}
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), cmd.IfMatch, h.stamp(meta), func(u User) ([]events.Payload, error) {
		return u.updateProfile(change, cmd.ByAdmin)
	})
	if err != nil {
		return UserResult{}, err
	}
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, nil
}
