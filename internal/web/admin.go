package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

type adminUsersData struct {
	Query    string
	Status   string
	Statuses []string
	Users    []projections.UserDoc
	Next     string
}

func (c *Console) getAdminUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if _, err := uuid.Parse(cursor); cursor != "" && err != nil {
		c.renderError(w, r, http.StatusNotFound, "ui.error.not_found") // as a bad cursor of the other pages
		return
	}
	// Disabled and deleted accounts only when asked for: a deleted
	// "countess" beside the new one confuses more than it tells.
	status := q.Get("status")
	if status == "" {
		status = queries.UsersActive
	}
	if !slices.Contains(queries.UserStatuses, status) {
		status = queries.UsersActive // a hand-made link: show the default list
	}
	page, err := c.queries.ListUsers(r.Context(), q.Get("q"), status, cursor, 50)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.admin_users.title", "admin")
	v.Form["q"] = q.Get("q")
	v.Data = adminUsersData{Query: q.Get("q"), Status: status, Statuses: queries.UserStatuses, Users: page.Users, Next: page.NextCursor}
	c.page(w, r, "admin_users", v)
}

type adminUserData struct {
	User projections.UserDoc
	// Status is the account's standing, from the one port (not User's
	// own record, which may lag).
	Status string
	Email  string
	Name   string
	Self   bool
}

func (c *Console) adminUserView(r *http.Request) (*view, error) {
	id := mux.Vars(r)["id"]
	if _, err := uuid.Parse(id); err != nil || !c.principals.AccountOf(id).Known {
		return nil, commands.ErrUserNotFound
	}
	doc, err := c.queries.GetMe(r.Context(), id, 0)
	if err != nil {
		return nil, err
	}
	v := c.newView(r, "ui.admin_user.title", "admin")
	v.Data = adminUserData{User: doc, Status: string(c.queries.Standing(doc)), Email: doc.Get(events.FieldEmail), Name: doc.Get(events.FieldFullName), Self: id == caller(r).UserID}
	v.Form["employee_id"], v.Form["department"] = doc.EmployeeID, doc.Department
	if doc.DisplayNameLocked {
		v.Form["display_name_locked"] = "on"
	}
	return v, nil
}

func (c *Console) getAdminUser(w http.ResponseWriter, r *http.Request) {
	v, err := c.adminUserView(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, "admin_user", v)
}

// postAdminUser saves the admin-only fields.
func (c *Console) postAdminUser(w http.ResponseWriter, r *http.Request) {
	v, err := c.adminUserView(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	form := readForm(r, v, "employee_id", "department", "display_name_locked")
	locked := form["display_name_locked"] == "on"
	id := mux.Vars(r)["id"]
	if _, err := c.cmd.UpdateAdminFields(r.Context(), commands.UpdateAdminFields{UserID: id, EmployeeID: ptr(form["employee_id"]),
		Department: ptr(form["department"]), DisplayNameLocked: &locked}, metadata(r)); err != nil {
		if !c.formFailed(w, r, err, "admin_user", v) {
			c.fail(w, r, err)
		}
		return
	}
	c.seeOther(w, r, "/admin/users/"+id, "ui.admin_user.saved")
}

func (c *Console) postAdminStanding(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var err error
	msg := "ui.admin_user.disabled"
	if mux.Vars(r)["action"] == "disable" {
		_, err = c.cmd.DisableUser(r.Context(), commands.DisableUser{UserID: id}, metadata(r))
	} else {
		_, err = c.cmd.EnableUser(r.Context(), commands.EnableUser{UserID: id}, metadata(r))
		msg = "ui.admin_user.enabled"
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/admin/users/"+id, msg)
}

// getPublicProfile is /{username}: anyone sees the profile of whoever
// carries the name now.
func (c *Console) getPublicProfile(w http.ResponseWriter, r *http.Request) {
	p, err := c.queries.GetProfile(r.Context(), caller(r).UserID, mux.Vars(r)["username"])
	if err != nil {
		if !errors.Is(err, queries.ErrNotFound) {
			c.fail(w, r, err)
			return
		}
		c.renderError(w, r, http.StatusNotFound, "ui.public.not_found")
		return
	}
	v := c.newView(r, "", "")
	v.Data = c.publicPage(r, v, p)
	// The page differs by language and by who looks (the header).
	w.Header().Set("Vary", "Accept-Language, Cookie")
	if !requestOf(r.Context()).signedIn {
		w.Header().Set("Cache-Control", "public, max-age=0, must-revalidate")
	}
	c.render(w, r, http.StatusOK, "public", v)
}
