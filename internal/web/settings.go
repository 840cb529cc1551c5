package web

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/outcome"
	"github.com/accountd/accountd/internal/picture"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
)

type profileData struct {
	PictureURL        string
	EmployeeID        string
	Department        string
	DisplayNameLocked bool
	UsernameMin       int
	UsernameMax       int
	// Fields are the profile's fields the form shows with the one widget
	// every field has (an input, or a text area for several lines).
	Fields        []events.ProfileField
	MaxPictureMiB int
}

func (c *Console) profileView(r *http.Request) (*view, error) {
	v := c.newView(r, "ui.profile.title", "profile")
	p := caller(r)
	doc, err := c.queries.GetMe(r.Context(), p.UserID, p.Revision)
	if err != nil {
		return nil, err
	}
	v.Form["username"] = doc.Username
	var fields []events.ProfileField
	for _, f := range userFields() {
		v.Form[f.Name] = doc.Get(f.Name)
		if !ownWidget[f.Name] {
			fields = append(fields, f)
		}
	}
	v.Data = profileData{PictureURL: projections.PictureURL(doc.Username, doc.PictureSHA256), EmployeeID: doc.EmployeeID, Department: doc.Department,
		DisplayNameLocked: doc.DisplayNameLocked, UsernameMin: validate.UsernameMinLength, UsernameMax: validate.UsernameMaxLength,
		MaxPictureMiB: picture.MaxBytes >> 20, Fields: fields}
	return v, nil
}

// ownWidget names the fields profile.html lays out by hand (a select of
// languages, a locked name); every other field gets the common widget.
var ownWidget = map[string]bool{events.FieldEmail: true, events.FieldFullName: true, events.FieldDescription: true,
	events.FieldPreferredLanguage: true, events.FieldPreferredTimezone: true}

// userFields are the profile's fields its owner may change.
func userFields() []events.ProfileField {
	var out []events.ProfileField
	for _, f := range events.ProfileFields {
		if !f.AdminOnly {
			out = append(out, f)
		}
	}
	return out
}

func (c *Console) getProfile(w http.ResponseWriter, r *http.Request) {
	v, err := c.profileView(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, "profile", v)
}

// postProfile saves the profile form: the fields that changed, and a new
// username (the old one is free at once).
func (c *Console) postProfile(w http.ResponseWriter, r *http.Request) {
	v, err := c.profileView(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	current := map[string]string{}
	for k, val := range v.Form {
		current[k] = val
	}
	names := []string{"username"}
	for _, f := range userFields() {
		names = append(names, f.Name)
	}
	form := readForm(r, v, names...)
	p := caller(r)
	change := commands.ProfileChange{}
	for _, name := range names[1:] {
		if form[name] != current[name] {
			change[name] = form[name]
		}
	}
	// Check everything first, then rename (a taken name is the usual
	// refusal), then save the rest: a refused form changes nothing.
	rename := form["username"] != current["username"]
	var checks []validate.Violation
	if rename {
		checks = validate.Username("username", form["username"])
	}
	if err := commands.CheckProfile(change); err != nil {
		var ve *commands.ValidationError
		if !errors.As(err, &ve) {
			c.fail(w, r, err)
			return
		}
		checks = append(checks, ve.Violations...)
	}
	if len(checks) > 0 {
		c.formFailed(w, r, &commands.ValidationError{Violations: checks}, "profile", v)
		return
	}
	if rename {
		if _, err := c.cmd.RenameUser(r.Context(), commands.RenameUser{UserID: p.UserID, NewUsername: form["username"]}, metadata(r)); err != nil {
			if !c.formFailed(w, r, err, "profile", v) {
				c.fail(w, r, err)
			}
			return
		}
	}
	if _, err := c.cmd.UpdateProfile(r.Context(), commands.UpdateProfile{UserID: p.UserID, Change: change}, metadata(r)); err != nil {
		if !c.formFailed(w, r, err, "profile", v) {
			c.fail(w, r, err)
		}
		return
	}
	c.seeOther(w, r, "/settings/profile", "ui.profile.saved")
}

// postPicture takes the uploaded picture (multipart field "picture").
func (c *Console) postPicture(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, picture.MaxBytes+64<<10)
	v, err := c.profileView(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	tooLarge := validate.Violation{Field: "picture", Code: "image.too_large", Params: map[string]int{"max": picture.MaxBytes >> 20}}
	var refused *validate.Violation
	var data []byte
	if file, _, ferr := r.FormFile("picture"); ferr != nil {
		refused = &validate.Violation{Field: "picture", Code: "image.empty"}
		if overLimit := new(http.MaxBytesError); errors.As(ferr, &overLimit) {
			refused = &tooLarge
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(file, picture.MaxBytes+1))
		file.Close()
		if err != nil || len(data) > picture.MaxBytes {
			refused = &tooLarge
		}
	}
	status := http.StatusUnprocessableEntity
	if refused == nil {
		if _, err := c.cmd.SetPicture(r.Context(), commands.SetPicture{UserID: caller(r).UserID, Data: data}, metadata(r)); err != nil {
			why, ok := picture.Refusal(err, "picture")
			if !ok {
				// Too many uploads (429) or every decode slot busy (503):
				// said on the field, with the status and Retry-After.
				o, known := outcome.Of(err)
				if !known || (o.Kind != "rate_limited" && o.Kind != "busy") {
					c.fail(w, r, err)
					return
				}
				why = validate.Violation{Field: "picture", Code: "image.busy"}
				if o.Kind == "rate_limited" {
					why = validate.Violation{Field: "picture", Code: "image.upload_limit", Params: map[string]int{"minutes": int(math.Ceil(o.RetryAfter.Minutes()))}}
				}
				status = o.Status
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(o.RetryAfter.Seconds()))))
			}
			refused = &why
		}
	}
	if refused != nil {
		v.Errors = append(v.Errors, c.fieldMessage(v.Lang, *refused))
		c.render(w, r, status, "profile", v)
		return
	}
	c.seeOther(w, r, "/settings/profile", "ui.profile.picture_saved")
}

func (c *Console) postPictureDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := c.cmd.RemovePicture(r.Context(), commands.RemovePicture{UserID: caller(r).UserID}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/settings/profile", "ui.profile.picture_removed")
}

type passwordData struct {
	Min, Max int
}

func (c *Console) getPassword(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.password.title", "password")
	v.Data = passwordData{Min: validate.PasswordMinLength, Max: validate.PasswordMaxLength}
	c.page(w, r, "password", v)
}

// postPassword changes the password; every other session ends.
func (c *Console) postPassword(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.password.title", "password")
	v.Data = passwordData{Min: validate.PasswordMinLength, Max: validate.PasswordMaxLength}
	readForm(r, v)
	p := caller(r)
	_, err := c.cmd.ChangePassword(r.Context(), commands.ChangePassword{UserID: p.UserID, SessionID: p.Credential.ID,
		Current: r.PostFormValue("current_password"), New: r.PostFormValue("new_password"), Confirm: r.PostFormValue("confirm_password")}, metadata(r))
	if err != nil {
		if !c.formFailed(w, r, err, "password", v) {
			c.fail(w, r, err)
		}
		return
	}
	c.confirmNow(r.Context(), p.Credential.ID) // the current password was just given
	c.seeOther(w, r, "/settings/password", "ui.password.saved")
}
