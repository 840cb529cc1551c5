package httpapi

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// adminTarget runs next as an admin acting on the account the route names
// ({user}): handlers shared with /v1/me act on it through subject(r).
func (a *API) adminTarget(next http.HandlerFunc) http.HandlerFunc {
	return a.adminOnly(func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(mux.Vars(r)["user"])
		if err != nil || !a.principals.AccountOf(id.String()).Known {
			a.writeError(w, r, commands.ErrUserNotFound)
			return
		}
		requestOf(r.Context()).subject = id.String()
		next(w, r)
	})
}

type usersResponse struct {
	Users      []meResponse `json:"users"`
	NextCursor *string      `json:"next_cursor"`
}

// getAdminUsers lists accounts, optionally those whose username or e-mail
// starts with ?q=, in pages (?cursor=, ?limit=).
func (a *API) getAdminUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, cursor := 50, q.Get("cursor")
	var vs []validate.Violation
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			vs = append(vs, validate.Violation{Field: "limit", Code: "limit.out_of_range", Params: map[string]int{"max": 200}})
		}
		limit = n
	}
	if cursor != "" {
		if _, err := uuid.Parse(cursor); err != nil {
			vs = append(vs, validate.Violation{Field: "cursor", Code: "cursor.invalid"})
		}
	}
	status := q.Get("status")
	if status != "" && !slices.Contains(queries.UserStatuses, status) {
		vs = append(vs, validate.Violation{Field: "status", Code: "status.unknown"})
	}
	if len(vs) > 0 {
		a.writeError(w, r, &commands.ValidationError{Violations: vs})
		return
	}
	page, err := a.queries.ListUsers(r.Context(), q.Get("q"), status, cursor, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := usersResponse{Users: make([]meResponse, len(page.Users))}
	for i, d := range page.Users {
		out.Users[i] = a.renderAdminAccount(d)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	w.Header().Set("Cache-Control", "private, no-store")
	writeJSON(w, http.StatusOK, out)
}

// getAdminUser shows any account, deleted and disabled ones included.
func (a *API) getAdminUser(w http.ResponseWriter, r *http.Request) {
	doc, err := a.queries.GetMe(r.Context(), subject(r), 0)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("ETag", etag(doc.Revision()))
	writeJSON(w, http.StatusOK, a.renderAdminAccount(doc))
}

// renderAdminAccount is the account as admins see it: with where each
// role came from.
func (a *API) renderAdminAccount(d projections.UserDoc) meResponse {
	out := a.renderAccount(a.accountOfDoc(d))
	for _, g := range d.RoleGrants() {
		out.RoleGrants = append(out.RoleGrants, roleGrant{Role: g.Role, Source: g.Source, ConfiguredAs: g.ConfiguredAs})
	}
	return out
}

type patchAdminUserRequest struct {
	// Profile gets the fields of events.ProfileFields (tableField).
	Profile           events.Profile `json:"-"`
	EmployeeID        optionalString `json:"employee_id"`
	Department        optionalString `json:"department"`
	DisplayNameLocked *bool          `json:"display_name_locked"`
}

// tableField takes every field of the profile: an admin may change them all.
func (req *patchAdminUserRequest) tableField(key string) any {
	if _, ok := events.ProfileFieldNamed(key); !ok {
		return nil
	}
	if req.Profile == nil {
		req.Profile = events.Profile{}
	}
	return &profileValue{profile: req.Profile, name: key}
}

// patchAdminUser changes another account's profile and admin-only fields.
func (a *API) patchAdminUser(w http.ResponseWriter, r *http.Request) {
	match, err := ifMatch(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req patchAdminUserRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := subject(r)
	profile := patchMeRequest{Profile: req.Profile}.change()
	fields := commands.UpdateAdminFields{UserID: id, EmployeeID: req.EmployeeID.ptr(), Department: req.Department.ptr(), DisplayNameLocked: req.DisplayNameLocked}
	// Two commands: check both first, so a refused request changes nothing.
	if err := commands.CheckAdminEdit(profile, fields); err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.cmd.UpdateProfile(r.Context(), commands.UpdateProfile{UserID: id, IfMatch: match, Change: profile, ByAdmin: true}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.EmployeeID.set || req.Department.set || req.DisplayNameLocked != nil {
		if res, err = a.cmd.UpdateAdminFields(r.Context(), fields, metadata(r)); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	a.writeAccount(w, http.StatusOK, accountOfUser(res))
}

// postDisable stops the account: its credentials are refused from the
// next request on, and it cannot sign in.
func (a *API) postDisable(w http.ResponseWriter, r *http.Request) {
	a.writeUserResult(w, r)(a.cmd.DisableUser(r.Context(), commands.DisableUser{UserID: subject(r)}, metadata(r)))
}

func (a *API) postEnable(w http.ResponseWriter, r *http.Request) {
	a.writeUserResult(w, r)(a.cmd.EnableUser(r.Context(), commands.EnableUser{UserID: subject(r)}, metadata(r)))
}

func (a *API) putRole(w http.ResponseWriter, r *http.Request) {
	a.writeUserResult(w, r)(a.cmd.GrantRole(r.Context(), commands.GrantRole{UserID: subject(r), Role: mux.Vars(r)["role"]}, metadata(r)))
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) {
	a.writeUserResult(w, r)(a.cmd.RevokeRole(r.Context(), commands.RevokeRole{UserID: subject(r), Role: mux.Vars(r)["role"]}, metadata(r)))
}

func (a *API) writeUserResult(w http.ResponseWriter, r *http.Request) func(commands.UserResult, error) {
	return func(res commands.UserResult, err error) {
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeAccount(w, http.StatusOK, accountOfUser(res))
	}
}

// deleteAdminUser deletes an account without its password.
func (a *API) deleteAdminUser(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.DeleteUser(r.Context(), commands.DeleteUser{UserID: subject(r), ByAdmin: true}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
