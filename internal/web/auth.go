package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/outcome"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/queries"
)

func (c *Console) getHome(w http.ResponseWriter, r *http.Request) {
	if requestOf(r.Context()).signedIn {
		http.Redirect(w, r, "/settings/profile", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) getSignup(w http.ResponseWriter, r *http.Request) {
	if requestOf(r.Context()).signedIn {
		http.Redirect(w, r, "/settings/profile", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signup", c.newView(r, "ui.signup.title", "signup"))
}

// postSignup registers the account and signs it in.
func (c *Console) postSignup(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.signup.title", "signup")
	form := readForm(r, v, "username", "email", "preferred_timezone")
	pw := r.PostFormValue("password")
	change := commands.ProfileChange{}
	if e := form["email"]; e != "" {
		change[events.FieldEmail] = e
	}
	// The time zone comes from the browser, in a hidden field the user
	// cannot correct: one we do not know is left out (the profile sets it).
	if z := form["preferred_timezone"]; z != "" && len(validate.Timezone("preferred_timezone", z)) == 0 {
		change[events.FieldPreferredTimezone] = z
	}
	lang := requestOf(r.Context()).lang
	change[events.FieldPreferredLanguage] = lang
	_, err := c.cmd.RegisterUser(r.Context(), commands.RegisterUser{Username: form["username"], Password: pw, Profile: change}, metadata(r))
	if err != nil {
		if !c.formFailed(w, r, err, "signup", v) {
			c.fail(w, r, err)
		}
		return
	}
	c.startSession(w, r, form["username"], pw, "/settings/profile")
}

func (c *Console) getLogin(w http.ResponseWriter, r *http.Request) {
	if requestOf(r.Context()).signedIn {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next"), "/settings/profile"), http.StatusSeeOther)
		return
	}
	v := c.newView(r, "ui.login.title", "login")
	v.Form["next"] = safeNext(r.URL.Query().Get("next"), "")
	c.page(w, r, "login", v)
}

// postLogin signs in through the same use case (and throttling) as the API.
func (c *Console) postLogin(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.login.title", "login")
	form := readForm(r, v, "username", "next")
	c.signInOrShowForm(w, r, form["username"], r.PostFormValue("password"), safeNext(form["next"], "/settings/profile"), v)
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, username, password, next string) {
	v := c.newView(r, "ui.login.title", "login")
	v.Form["username"] = username
	c.signInOrShowForm(w, r, username, password, next, v)
}

func (c *Console) signInOrShowForm(w http.ResponseWriter, r *http.Request, username, password, next string, v *view) {
	var device string
	if cookie, err := r.Cookie(c.cookies.device); err == nil {
		device = cookie.Value
	}
	in, err := c.cmd.SignIn(r.Context(), commands.SignIn{Username: username, Password: password, Channel: events.ChannelBrowser, Device: device}, metadata(r))
	if err != nil {
		switch {
		case errors.Is(err, commands.ErrInvalidCredentials):
			v.Errors = append(v.Errors, fieldMessage{Field: "username", ID: "f-username", Message: v.T("problem.invalid_credentials.title")})
			c.render(w, r, http.StatusUnauthorized, "login", v)
		case errors.Is(err, commands.ErrAccountDisabled):
			v.Errors = append(v.Errors, fieldMessage{Field: "username", ID: "f-username", Message: v.T("problem.account_disabled.title")})
			c.render(w, r, http.StatusForbidden, "login", v)
		case !c.formFailed(w, r, err, "login", v):
			c.fail(w, r, err)
		}
		return
	}
	c.setCookie(w, c.cookies.session, in.Token, c.sessionTTL)
	c.setDeviceCookie(w, in.Device, in.DeviceExpiresAt)
	// Signing in confirms the password: sensitive steps need no second one
	// for the next minutes.
	c.confirmNow(r.Context(), in.SessionID)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// getLogout asks, since signing out is a POST (a link or a prefetch must
// not sign anyone out).
func (c *Console) getLogout(w http.ResponseWriter, r *http.Request) {
	if !requestOf(r.Context()).signedIn {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "logout", c.newView(r, "ui.logout", ""))
}

func (c *Console) postLogout(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if _, err := c.cmd.SignOut(r.Context(), commands.SignOut{UserID: p.UserID, SessionID: p.Credential.ID}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.forgetSession(r.Context(), p.Credential.ID)
	c.clearCookie(w, c.cookies.session)
	c.seeOtherSignedOut(w, r, "/login", "ui.logout.done")
}

// getReauth asks for the current password before a sensitive step.
func (c *Console) getReauth(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.reauth.title", "")
	v.Form["next"] = safeNext(r.URL.Query().Get("next"), "/settings/profile")
	c.render(w, r, http.StatusOK, "reauth", v)
}

func (c *Console) postReauth(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.reauth.title", "")
	form := readForm(r, v, "next")
	p := caller(r)
	if err := c.cmd.ConfirmPassword(r.Context(), commands.ConfirmPassword{UserID: p.UserID, Password: r.PostFormValue("current_password")}, metadata(r)); err != nil {
		if !c.formFailed(w, r, err, "reauth", v) {
			c.fail(w, r, err)
		}
		return
	}
	c.confirmNow(r.Context(), p.Credential.ID)
	http.Redirect(w, r, safeNext(form["next"], "/settings/profile"), http.StatusSeeOther)
}

// readForm keeps the named fields of the form (decodeForm parsed it) for
// the page to show again.
func readForm(r *http.Request, v *view, fields ...string) map[string]string {
	for _, f := range fields {
		v.Form[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	return v.Form
}

// fail answers what the user cannot correct on the page: not found, a
// conflict, too many attempts, or a failure of ours.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, queries.ErrBadCursor) {
		err = queries.ErrNotFound // a page past the end, or a link taken apart: no such page
	}
	if o, ok := outcome.Of(err); ok {
		key := "problem." + o.Kind + ".title"
		if o.Kind == "not_found" {
			key = "ui.error.not_found"
		}
		if o.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(o.RetryAfter.Seconds()))))
		}
		c.renderError(w, r, o.Status, key)
		return
	}
	if r.Context().Err() != nil {
		w.WriteHeader(499) // the browser went away: nobody reads an answer; the access log says so
		return
	}
	c.log.Error("console request failed", "route", requestOf(r.Context()).route, "request_id", requestOf(r.Context()).id, "err", err)
	c.renderError(w, r, http.StatusInternalServerError, "problem.internal.title")
}
