package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

type tokenRow struct {
	ID, Title, Prefix         string
	Scopes                    []string
	Created, Expires, Used    time.Time
	UsedFrom                  string
	Enabled, Revoked, Expired bool
}

func rowOf(t queries.Token, now time.Time) tokenRow {
	row := tokenRow{ID: t.ID, Title: t.Title, Prefix: t.TokenPrefix, Scopes: t.Scopes, Created: projections.Time(t.CreatedAt),
		Expires: projections.Time(t.ExpiresAt), Used: projections.Time(t.LastUsedAt), UsedFrom: t.LastUsedIP}
	row.Enabled = t.Enabled != nil && *t.Enabled
	row.Revoked = t.Revoked != nil && *t.Revoked
	row.Expired = !now.Before(row.Expires)
	return row
}

func (c *Console) getTokens(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.tokens.title", "tokens")
	list, err := c.queries.ListTokens(r.Context(), caller(r).UserID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rows := make([]tokenRow, len(list))
	for i, t := range list {
		rows[i] = rowOf(t, c.now())
	}
	v.Data = rows
	c.page(w, r, "tokens", v)
}

type scopeChoice struct {
	Name, Description string
}

type newTokenData struct {
	Scopes  []scopeChoice
	Chosen  []string
	MaxDays int
	MinDate string
	MaxDate string
}

// scopeDescription is a configured scope's own description, else the
// catalogs' for a built-in one.
func (c *Console) scopeDescription(v *view, scope string) string {
	if d := c.cmd.Scopes().Description(scope); d != "" {
		return d
	}
	return v.T("scope." + scope)
}

func (c *Console) newTokenView(r *http.Request) *view {
	v := c.newView(r, "ui.token_new.title", "tokens")
	var choices []scopeChoice
	for _, n := range c.cmd.Scopes().Names() {
		choices = append(choices, scopeChoice{Name: n, Description: c.scopeDescription(v, n)})
	}
	maxDays := int(c.cmd.MaxTokenLifetime() / (24 * time.Hour))
	now := c.now().In(v.zone)
	v.Data = &newTokenData{Scopes: choices, MaxDays: maxDays, MinDate: now.Format(dateLayout),
		MaxDate: lastDayBefore(now.Add(c.cmd.MaxTokenLifetime()), v.zone)}
	return v
}

func (c *Console) getNewToken(w http.ResponseWriter, r *http.Request) {
	v := c.newTokenView(r)
	v.Form["expires"] = v.c.now().In(v.zone).AddDate(0, 0, 30).Format(dateLayout)
	v.Form["enabled"] = "on"
	c.render(w, r, http.StatusOK, "token_new", v)
}

// postNewToken creates the token; its secret goes to a one-time flash and
// is shown on the next page, never in a URL. The console is signed in
// with sessions only, which have full control over the account's tokens.
func (c *Console) postNewToken(w http.ResponseWriter, r *http.Request) {
	v := c.newTokenView(r)
	form := readForm(r, v, "title", "expires", "enabled")
	chosen := r.PostForm["scopes"]
	v.Data.(*newTokenData).Chosen = chosen
	// A date that does not parse still goes through the command with the
	// rest, so every field's error shows at once; its own message replaces
	// "required".
	expires, dateErr := endOfDay(form["expires"], v.zone)
	res, err := c.cmd.CreateToken(r.Context(), commands.CreateToken{UserID: caller(r).UserID, Actor: commands.Actor{Session: true}, Spec: commands.TokenSpec{
		Title: form["title"], Scopes: chosen, ExpiresAt: expires, Enabled: form["enabled"] == "on"}}, metadata(r))
	if err == nil {
		c.leaveFlash(w, r, flash{secret: res.Secret, ref: res.Token.ID})
		http.Redirect(w, r, "/settings/tokens/created", http.StatusSeeOther)
		return
	}
	if !c.formErrors(v, err) {
		c.fail(w, r, err)
		return
	}
	if dateErr != nil && form["expires"] != "" {
		v.setFieldMessage("expires", v.T("date.invalid"))
	}
	c.formStatus(w, r, err, "token_new", v)
}

type createdData struct {
	Secret string
	Token  tokenRow
}

// getTokenCreated shows the new token in full, this once.
func (c *Console) getTokenCreated(w http.ResponseWriter, r *http.Request) {
	f, ok := c.takeFlash(w, r)
	if !ok || f.secret == "" {
		http.Redirect(w, r, "/settings/tokens", http.StatusSeeOther)
		return
	}
	v := c.newView(r, "ui.token_created.title", "tokens")
	t, err := c.queries.GetToken(r.Context(), caller(r).UserID, f.ref)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v.Data = createdData{Secret: f.secret, Token: rowOf(t, c.now())}
	c.render(w, r, http.StatusOK, "token_created", v)
}

type tokenDetail struct {
	Token    tokenRow
	Scopes   []scopeChoice
	Activity []auditRow
}

func (c *Console) getToken(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	p := caller(r)
	t, err := c.queries.GetToken(r.Context(), p.UserID, id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.token.title", "tokens")
	d := tokenDetail{Token: rowOf(t, c.now())}
	for _, s := range t.Scopes {
		d.Scopes = append(d.Scopes, scopeChoice{Name: s, Description: c.scopeDescription(v, s)})
	}
	page, err := c.queries.AuditLog(r.Context(), p.UserID, queries.AuditFilter{CredentialID: id, Limit: 20})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, e := range page.Entries {
		d.Activity = append(d.Activity, c.auditRow(v, e))
	}
	v.Data = d
	c.page(w, r, "token", v)
}

func (c *Console) postTokenEnabled(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	on, err := strconv.ParseBool(r.PostFormValue("enabled"))
	if err != nil {
		c.renderError(w, r, http.StatusBadRequest, "ui.error.bad_form")
		return
	}
	if _, err := c.cmd.UpdateToken(r.Context(), commands.UpdateToken{UserID: caller(r).UserID, TokenID: id, Actor: commands.Actor{Session: true}, Change: commands.TokenChange{Enabled: &on}}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	msg := "ui.token.disabled"
	if on {
		msg = "ui.token.enabled"
	}
	c.seeOther(w, r, "/settings/tokens/"+id, msg)
}

// getTokenDelete is the confirmation page (it works without JavaScript).
func (c *Console) getTokenDelete(w http.ResponseWriter, r *http.Request) {
	t, err := c.queries.GetToken(r.Context(), caller(r).UserID, mux.Vars(r)["id"])
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.token_delete.title", "tokens")
	v.Data = rowOf(t, c.now())
	c.render(w, r, http.StatusOK, "token_delete", v)
}

func (c *Console) postTokenDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := c.cmd.DeleteToken(r.Context(), commands.DeleteToken{UserID: caller(r).UserID, TokenID: mux.Vars(r)["id"], Actor: commands.Actor{Session: true}}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/settings/tokens", "ui.token.deleted")
}
