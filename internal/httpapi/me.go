package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
)

// meResponse is the one shape of the account resource, whether it comes
// from a command's result or from the read model. Admins see the same
// shape, with the account's status.
type meResponse struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	// Profile has every field of events.ProfileFields ("" when unset),
	// inline (MarshalJSON).
	Profile           events.Profile `json:"-"`
	PictureURL        *string        `json:"picture_url"`
	EmployeeID        string         `json:"employee_id"`
	Department        string         `json:"department"`
	DisplayNameLocked bool           `json:"display_name_locked"`
	Roles             []string       `json:"roles"`
	// RoleGrants (admin views only) says where each role came from.
	RoleGrants   []roleGrant `json:"role_grants,omitempty"`
	Status       string      `json:"status"`
	RegisteredAt string      `json:"registered_at"`
	UpdatedAt    string      `json:"updated_at"`
}

// MarshalJSON writes the profile's fields beside the others.
func (m meResponse) MarshalJSON() ([]byte, error) {
	type own meResponse
	raw, err := json.Marshal(own(m))
	if err != nil {
		return nil, err
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	for _, f := range events.ProfileFields {
		if out[f.Name], err = json.Marshal(m.Profile.Get(f.Name)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(out)
}

// roleGrant is a role and where it came from: "admin" (an admin granted
// it) or "configuration" (--admin, as configured_as); "" if the read
// model predates sources.
type roleGrant struct {
	Role         string `json:"role"`
	Source       string `json:"source"`
	ConfiguredAs string `json:"configured_as,omitempty"`
}

// account is the resource before rendering.
type account struct {
	id, username            string
	profile                 events.Profile
	admin                   commands.AdminFields
	roles                   []string
	pictureSHA              string
	status                  string
	registeredAt, updatedAt time.Time
	revision                uint64
}

func accountOfUser(res commands.UserResult) account {
	u := res.User
	status := "active"
	switch {
	case u.Deleted:
		status = "deleted"
	case u.Disabled:
		status = "disabled"
	}
	return account{id: u.ID, username: u.Username, profile: u.Profile, admin: u.Admin, roles: u.Roles, pictureSHA: u.Picture.SHA256,
		status: status, registeredAt: u.RegisteredAt, updatedAt: u.UpdatedAt, revision: res.Revision}
}

// accountOfDoc: the account as the read model has it, its standing as the
// one port says (queries.Standings).
func (a *API) accountOfDoc(d projections.UserDoc) account {
	registered, _ := time.Parse(time.RFC3339Nano, d.RegisteredAt)
	updated, _ := time.Parse(time.RFC3339Nano, d.UpdatedAt)
	return account{id: d.ID, username: d.Username, profile: d.Profile, registeredAt: registered, updatedAt: updated, revision: d.Revision(),
		admin: commands.AdminFields{EmployeeID: d.EmployeeID, Department: d.Department, DisplayNameLocked: d.DisplayNameLocked},
		roles: d.Roles(), pictureSHA: d.PictureSHA256, status: string(a.queries.Standing(d))}
}

func (a *API) renderAccount(acc account) meResponse {
	zone := acc.profile.Get(events.FieldPreferredTimezone)
	out := meResponse{
		ID: acc.id, Username: acc.username,
		Profile:           acc.profile,
		EmployeeID:        acc.admin.EmployeeID,
		Department:        acc.admin.Department,
		DisplayNameLocked: acc.admin.DisplayNameLocked,
		Roles:             acc.roles,
		Status:            acc.status,
		RegisteredAt:      a.renderTime(acc.registeredAt, zone),
		UpdatedAt:         a.renderTime(acc.updatedAt, zone),
	}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if u := projections.PictureURL(acc.username, acc.pictureSHA); u != "" {
		out.PictureURL = &u
	}
	return out
}

func (a *API) writeAccount(w http.ResponseWriter, status int, acc account) {
	w.Header().Set("ETag", etag(acc.revision))
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store") // a write's answer: personal data, never kept
	}
	writeJSON(w, status, a.renderAccount(acc))
}

func etag(revision uint64) string { return `"` + strconv.FormatUint(revision, 10) + `"` }

// ifMatch parses If-Match: absent or * means no check, else one strong ETag.
func ifMatch(r *http.Request) (*uint64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	if len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		return nil, errBadPrecondition
	}
	v, err := strconv.ParseUint(h[1:len(h)-1], 10, 64)
	if err != nil {
		return nil, errBadPrecondition
	}
	return &v, nil
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	doc, err := a.queries.GetMe(r.Context(), p.UserID, p.Revision)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	tag := etag(doc.Revision())
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == tag {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	a.writeAccount(w, http.StatusOK, a.accountOfDoc(doc))
}

type patchMeRequest struct {
	// Profile gets the fields of events.ProfileFields (tableField).
	Profile events.Profile `json:"-"`
	// Admin-only fields: named here so that a user who sends one is told
	// it is an admin's to change (403), not that it does not exist.
	EmployeeID        json.RawMessage `json:"employee_id"`
	Department        json.RawMessage `json:"department"`
	DisplayNameLocked json.RawMessage `json:"display_name_locked"`
}

// adminFields lists the admin-only fields given.
func (req patchMeRequest) adminFields() []validate.Violation {
	var vs []validate.Violation
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"employee_id", req.EmployeeID}, {"department", req.Department}, {"display_name_locked", req.DisplayNameLocked}} {
		if f.raw != nil {
			vs = append(vs, validate.Violation{Field: f.name, Code: "field.admin_only"})
		}
	}
	return vs
}

func (req patchMeRequest) change() commands.ProfileChange {
	if req.Profile == nil {
		return commands.ProfileChange{}
	}
	return req.Profile
}

// tableField takes the profile's fields a user may change; the admin-only
// ones are named in the struct (so that sending one is a 403).
func (req *patchMeRequest) tableField(key string) any {
	f, ok := events.ProfileFieldNamed(key)
	if !ok || f.AdminOnly {
		return nil
	}
	if req.Profile == nil {
		req.Profile = events.Profile{}
	}
	return &profileValue{profile: req.Profile, name: key}
}

// profileValue reads one field of a PATCH body: absent is no change, null
// and "" clear it.
type profileValue struct {
	profile events.Profile
	name    string
}

func (v profileValue) UnmarshalJSON(b []byte) error {
	var o optionalString
	if err := o.UnmarshalJSON(b); err != nil {
		return err
	}
	v.profile[v.name] = o.value
	return nil
}

// patchMe sets the given profile fields; null or "" clears one.
func (a *API) patchMe(w http.ResponseWriter, r *http.Request) {
	match, err := ifMatch(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req patchMeRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if vs := req.adminFields(); len(vs) > 0 {
		a.writeError(w, r, &adminFieldError{vs})
		return
	}
	res, err := a.cmd.UpdateProfile(r.Context(), commands.UpdateProfile{UserID: caller(r).UserID, IfMatch: match, Change: req.change()}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeAccount(w, http.StatusOK, accountOfUser(res))
}

type usernameRequest struct {
	Username string `json:"username"`
}

// putUsername renames the signed-in user; the old name is free at once.
func (a *API) putUsername(w http.ResponseWriter, r *http.Request) {
	match, err := ifMatch(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req usernameRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.cmd.RenameUser(r.Context(), commands.RenameUser{UserID: subject(r), NewUsername: req.Username, IfMatch: match}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeAccount(w, http.StatusOK, accountOfUser(res))
}

// adminFieldError: a user sent fields only an admin may change.
type adminFieldError struct{ violations []validate.Violation }

func (e *adminFieldError) Error() string { return "admin-only fields" }

type deleteAccountRequest struct {
	CurrentPassword string `json:"current_password"`
}

// deleteMe deletes the signed-in account, confirmed with the password: the
// username is free at once, every session and token ends, and the personal
// data is erased.
func (a *API) deleteMe(w http.ResponseWriter, r *http.Request) {
	var req deleteAccountRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if _, err := a.cmd.DeleteUser(r.Context(), commands.DeleteUser{UserID: caller(r).UserID, CurrentPassword: req.CurrentPassword}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
