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

// validateProfile checks the given fields and returns them in canonical form.
func validateProfile(c ProfileChange) (events.Profile, []validate.Violation) {
	var vs []validate.Violation
	if c.Email != nil && *c.Email != "" {
		vs = append(vs, validate.Email("email", *c.Email)...)
	}
	if c.FullName != nil {
		vs = append(vs, validate.SingleLine("full_name", *c.FullName, validate.FullNameMaxLength)...)
	}
	if c.Description != nil {
		description, dvs := validate.MultiLine("description", *c.Description, validate.DescriptionMaxLength)
		vs = append(vs, dvs...)
		c.Description = &description
	}
	if c.PreferredLanguage != nil && *c.PreferredLanguage != "" {
		tag, lvs := validate.Language("preferred_language", *c.PreferredLanguage)
		vs = append(vs, lvs...)
		c.PreferredLanguage = &tag
	}
	if c.PreferredTimezone != nil && *c.PreferredTimezone != "" {
		vs = append(vs, validate.Timezone("preferred_timezone", *c.PreferredTimezone)...)
	}
	return c, vs
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
