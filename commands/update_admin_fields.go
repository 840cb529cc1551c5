package commands

import (
	"context"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// UpdateAdminFields changes the fields only an admin may change; nil
// leaves a field as it is, "" clears a text field.
type UpdateAdminFields struct {
	UserID            string
	EmployeeID        *string
	Department        *string
	DisplayNameLocked *bool
	IfMatch           *uint64
}

// Lengths of the admin-only text fields.
const (
	EmployeeIDMaxLength = 64
	DepartmentMaxLength = 128
)

// handleUpdateAdminFields records the fields that actually change.
func (h *Handlers) handleUpdateAdminFields(ctx context.Context, cmd UpdateAdminFields, meta events.Metadata) (res UserResult, err error) {
	if err := invalid(validAdminFields(cmd)); err != nil {
		return UserResult{}, err
	}
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), cmd.IfMatch, h.stamp(meta), func(u User) ([]events.Payload, error) {
		return u.updateAdminFields(cmd)
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, err
}

func validAdminFields(c UpdateAdminFields) []validate.Violation {
	var vs []validate.Violation
	if c.EmployeeID != nil {
		vs = append(vs, validate.SingleLine("employee_id", *c.EmployeeID, EmployeeIDMaxLength)...)
	}
	if c.Department != nil {
		vs = append(vs, validate.SingleLine("department", *c.Department, DepartmentMaxLength)...)
	}
	return vs
}

// CheckAdminEdit validates an admin's profile change and admin-field
// change together without applying either (a *ValidationError with every
// violation, or nil): a request that sets both checks both before it
// changes either.
func CheckAdminEdit(profile ProfileChange, fields UpdateAdminFields) error {
	_, vs := validateProfile(profile)
	return invalid(append(vs, validAdminFields(fields)...))
}

func (u User) updateAdminFields(c UpdateAdminFields) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	e := events.UserAdminFieldsUpdatedV1{UserID: u.ID}
	changed := false
	if c.EmployeeID != nil && *c.EmployeeID != u.Admin.EmployeeID {
		e.EmployeeID, changed = c.EmployeeID, true
	}
	if c.Department != nil && *c.Department != u.Admin.Department {
		e.Department, changed = c.Department, true
	}
	if c.DisplayNameLocked != nil && *c.DisplayNameLocked != u.Admin.DisplayNameLocked {
		e.DisplayNameLocked, changed = c.DisplayNameLocked, true
	}
	if !changed {
		return nil, nil
	}
	return []events.Payload{e}, nil
}
