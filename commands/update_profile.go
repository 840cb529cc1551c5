package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/validate"
)

// ProfileChange names the fields to set; nil leaves a field as it is, and
// an empty string clears it.
type ProfileChange struct {
	Email             *string
	FullName          *string
	Description       *string
	PreferredLanguage *string
	PreferredTimezone *string
}

// UpdateProfile changes profile fields of the signed-in user.
type UpdateProfile struct {
	UserID string
	Change ProfileChange
	// IfMatch is the revision the caller last saw; nil skips the check.
	IfMatch *uint64
}

// validated checks the given fields and returns them in canonical form.
func (c ProfileChange) validated() (events.Profile, []validate.Violation) {
	var p events.Profile
	var vs []validate.Violation
	if c.Email != nil {
		if *c.Email != "" {
			vs = append(vs, validate.Email("email", *c.Email)...)
		}
		p.Email = c.Email
	}
	if c.FullName != nil {
		vs = append(vs, validate.Text("full_name", *c.FullName, validate.FullNameMaxLength)...)
		p.FullName = c.FullName
	}
	if c.Description != nil {
		vs = append(vs, validate.Text("description", *c.Description, validate.DescriptionMaxLength)...)
		p.Description = c.Description
	}
	if c.PreferredLanguage != nil {
		tag := *c.PreferredLanguage
		if tag != "" {
			var lvs []validate.Violation
			tag, lvs = validate.Language("preferred_language", tag)
			vs = append(vs, lvs...)
		}
		p.PreferredLanguage = &tag
	}
	if c.PreferredTimezone != nil {
		if *c.PreferredTimezone != "" {
			vs = append(vs, validate.Timezone("preferred_timezone", *c.PreferredTimezone)...)
		}
		p.PreferredTimezone = c.PreferredTimezone
	}
	return p, vs
}

// changedFrom keeps only the fields that differ from the current profile.
func changedFrom(p events.Profile, cur ProfileFields) (events.Profile, bool) {
	changed := false
	keep := func(v *string, current string) *string {
		if v == nil || *v == current {
			return nil
		}
		changed = true
		return v
	}
	return events.Profile{
		Email:             keep(p.Email, cur.Email),
		FullName:          keep(p.FullName, cur.FullName),
		Description:       keep(p.Description, cur.Description),
		PreferredLanguage: keep(p.PreferredLanguage, cur.PreferredLanguage),
		PreferredTimezone: keep(p.PreferredTimezone, cur.PreferredTimezone),
	}, changed
}

// UpdateProfile records the fields that actually change; an update that
// changes nothing writes nothing.
func (h *Handlers) UpdateProfile(ctx context.Context, cmd UpdateProfile, meta events.Metadata) (Result, error) {
	profile, vs := cmd.Change.validated()
	if err := invalid(vs); err != nil {
		return Result{}, err
	}
	meta = h.stamp(meta)
	res, _, err := h.updateUser(ctx, cmd.UserID, cmd.IfMatch, meta, func(u User) ([]eventlog.NewEvent, error) {
		changed, any := changedFrom(profile, u.Profile)
		if !any {
			return nil, nil
		}
		return []eventlog.NewEvent{{
			Type: events.UserProfileUpdated,
			Data: events.UserProfileUpdatedV1{UserID: u.ID, Profile: changed},
		}}, nil
	})
	return res, err
}
