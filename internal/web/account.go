package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/auditexport"
	"github.com/accountd/accountd/internal/notices"
	"github.com/accountd/accountd/internal/summary"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

type sessionRow struct {
	ID, ClientIP, UserAgent string
	Created, Seen, Expires  time.Time
	Current                 bool
}

func (c *Console) getSessions(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	list, err := c.queries.ListSessions(r.Context(), p.UserID, c.now())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.sessions.title", "sessions")
	rows := make([]sessionRow, len(list))
	for i, s := range list {
		rows[i] = sessionRow{ID: s.ID, ClientIP: s.ClientIP, UserAgent: s.UserAgent, Created: projections.Time(s.CreatedAt),
			Seen: projections.Time(s.LastSeenAt), Expires: projections.Time(s.ExpiresAt), Current: s.ID == p.Credential.ID}
	}
	v.Data = rows
	c.page(w, r, "sessions", v)
}

func (c *Console) postEndSession(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, err := c.cmd.EndSession(r.Context(), commands.EndSession{UserID: caller(r).UserID, SessionID: id}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.forgetSession(r.Context(), id)
	c.seeOther(w, r, "/settings/sessions", "ui.sessions.ended")
}

func (c *Console) postEndOthers(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if _, err := c.cmd.EndOtherSessions(r.Context(), commands.EndOtherSessions{UserID: p.UserID, KeepSessionID: p.Credential.ID}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/settings/sessions", "ui.sessions.ended_others")
}

type credentialCard struct {
	ID, Service, URL, Username, Note string
	Expires, SecretChanged, Revealed time.Time
	ProvisionedBy                    string
	Expired                          bool
	Secret                           string // revealed, this once
}

func cardOf(cr queries.Credential, now time.Time) credentialCard {
	card := credentialCard{ID: cr.ID, Service: cr.Service, URL: cr.URL, Username: cr.Username, Note: cr.Note, Expires: projections.Time(cr.ExpiresAt),
		SecretChanged: projections.Time(cr.SecretChangedAt), Revealed: projections.Time(cr.LastRevealedAt), ProvisionedBy: cr.ProvisionedBy}
	card.Expired = !card.Expires.IsZero() && !now.Before(card.Expires)
	return card
}

func (c *Console) getCredentials(w http.ResponseWriter, r *http.Request) {
	list, err := c.queries.ListCredentials(r.Context(), caller(r).UserID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.credentials.title", "credentials")
	cards := make([]credentialCard, len(list))
	f, _ := c.takeFlash(w, r)
	if f.message != "" {
		v.Status = v.T(f.message)
	}
	for i, cr := range list {
		cards[i] = cardOf(cr, c.now())
		if f.secret != "" && f.ref == cr.ID {
			cards[i].Secret = f.secret
		}
	}
	v.Data = cards
	c.render(w, r, http.StatusOK, "credentials", v)
}

// getCredentialForm is the create form, or the edit form of {id}.
func (c *Console) getCredentialForm(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.credential_new.title", "credentials")
	if id := mux.Vars(r)["id"]; id != "" {
		cr, err := c.queries.GetCredential(r.Context(), caller(r).UserID, id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		card := cardOf(cr, c.now())
		v.Title, v.Data = "ui.credential_edit.title", card
		v.Form = map[string]string{"service": card.Service, "url": card.URL, "username": card.Username, "note": card.Note, "expires": v.Date(card.Expires)}
	}
	c.render(w, r, http.StatusOK, "credential_form", v)
}

func (c *Console) postCredentialForm(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	v := c.newView(r, "ui.credential_new.title", "credentials")
	if id != "" {
		v.Title, v.Data = "ui.credential_edit.title", credentialCard{ID: id}
	}
	form := readForm(r, v, "service", "url", "username", "note", "expires")
	secret := r.PostFormValue("secret")
	spec := commands.CredentialSpec{Service: ptr(form["service"]), URL: ptr(form["url"]), Username: ptr(form["username"]), Note: ptr(form["note"])}
	if secret != "" || id == "" {
		spec.Secret = &secret
	}
	end, dateErr := endOfDay(form["expires"], v.zone)
	switch {
	case form["expires"] == "":
		spec.ClearExpiry = id != ""
	case dateErr != nil:
		v.Errors = append(v.Errors, fieldMessage{Field: "expires", ID: "f-expires", Message: v.T("date.invalid")})
		c.render(w, r, http.StatusUnprocessableEntity, "credential_form", v)
		return
	default:
		spec.ExpiresAt = &end
	}
	p := caller(r)
	var err error
	if id == "" {
		_, err = c.cmd.CreateCredential(r.Context(), commands.CreateCredential{UserID: p.UserID, Spec: spec}, metadata(r))
	} else {
		_, err = c.cmd.UpdateCredential(r.Context(), commands.UpdateCredential{UserID: p.UserID, CredentialID: id, Spec: spec}, metadata(r))
	}
	if err == nil {
		c.seeOther(w, r, "/settings/credentials", "ui.credentials.saved")
		return
	}
	if !c.formFailed(w, r, err, "credential_form", v) {
		c.fail(w, r, err)
	}
}

func ptr(s string) *string { return &s }

func (c *Console) getCredentialDelete(w http.ResponseWriter, r *http.Request) {
	cr, err := c.queries.GetCredential(r.Context(), caller(r).UserID, mux.Vars(r)["id"])
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.credential_delete.title", "credentials")
	v.Data = cardOf(cr, c.now())
	c.render(w, r, http.StatusOK, "credential_delete", v)
}

func (c *Console) postCredentialDelete(w http.ResponseWriter, r *http.Request) {
	if _, err := c.cmd.DeleteCredential(r.Context(), commands.DeleteCredential{UserID: caller(r).UserID, CredentialID: mux.Vars(r)["id"]}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/settings/credentials", "ui.credentials.deleted")
}

// postReveal shows the secret on the cards page, once (after a recent
// password confirmation; the reveal is in the security log).
func (c *Console) postReveal(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	res, err := c.cmd.RevealCredential(r.Context(), commands.RevealCredential{UserID: caller(r).UserID, CredentialID: id, Confirmed: true}, metadata(r))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.leaveFlash(w, r, flash{secret: res.Secret, ref: id, message: "ui.credentials.revealed"})
	http.Redirect(w, r, "/settings/credentials#c-"+id, http.StatusSeeOther)
}

type notificationSettings struct {
	Categories []string
	Channels   map[string]events.Channels
}

func (c *Console) getNotificationSettings(w http.ResponseWriter, r *http.Request) {
	state, err := c.queries.NotificationState(r.Context(), caller(r).UserID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	prefs := commands.PreferencesOver(state.Categories, state.LeadDays)
	v := c.newView(r, "ui.notification_settings.title", "notification_settings")
	v.Data = notificationSettings{Categories: commands.NotificationCategories, Channels: prefs.Categories}
	v.Form["lead_days"] = joinInts(prefs.LeadDays)
	c.page(w, r, "notification_settings", v)
}

func joinInts(ds []int) string {
	var s []string
	for _, d := range ds {
		s = append(s, strconv.Itoa(d))
	}
	return strings.Join(s, ", ")
}

func (c *Console) postNotificationSettings(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.notification_settings.title", "notification_settings")
	form := readForm(r, v, "lead_days")
	prefs := commands.Preferences{Categories: map[string]events.Channels{}}
	for _, cat := range commands.NotificationCategories {
		// Security notices always appear in the app: the page shows that
		// box checked and disabled, so the form never sends it.
		inApp := cat == "security" || r.PostFormValue(cat+".in_app") == "on"
		prefs.Categories[cat] = events.Channels{InApp: inApp, Email: r.PostFormValue(cat+".email") == "on"}
	}
	for _, part := range strings.FieldsFunc(form["lead_days"], func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(part)
		if err != nil {
			n = -1 // refused by the use case, with its message
		}
		prefs.LeadDays = append(prefs.LeadDays, n)
	}
	if prefs.LeadDays == nil {
		prefs.LeadDays = []int{}
	}
	if _, err := c.cmd.SetNotificationPreferences(r.Context(), commands.SetNotificationPreferences{UserID: caller(r).UserID, Preferences: prefs}, metadata(r)); err != nil {
		v.Data = notificationSettings{Categories: commands.NotificationCategories, Channels: prefs.Categories}
		if !c.formFailed(w, r, err, "notification_settings", v) {
			c.fail(w, r, err)
		}
		return
	}
	c.seeOther(w, r, "/settings/notifications", "ui.notification_settings.saved")
}

type feedData struct {
	Items []feedItem
	Next  string
}

type feedItem struct {
	ID, Title, Category string
	At                  time.Time
	Read                bool
}

func (c *Console) getNotifications(w http.ResponseWriter, r *http.Request) {
	page, err := c.queries.ListNotifications(r.Context(), caller(r).UserID, r.URL.Query().Get("cursor"), 20)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.notifications.title", "notifications")
	d := feedData{Next: page.NextCursor}
	for _, n := range page.Notifications {
		d.Items = append(d.Items, feedItem{ID: n.ID, Title: notices.FeedTitle(n.Kind, v.Lang, n.Params, n.Erased), Category: n.Category, At: projections.Time(n.At), Read: n.Read})
	}
	v.Data = d
	c.page(w, r, "notifications", v)
}

func (c *Console) postRead(w http.ResponseWriter, r *http.Request) {
	if _, err := c.cmd.MarkNotificationsRead(r.Context(), commands.MarkNotificationsRead{UserID: caller(r).UserID, IDs: []string{mux.Vars(r)["id"]}}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/notifications", "ui.notifications.marked")
}

func (c *Console) postReadAll(w http.ResponseWriter, r *http.Request) {
	if _, err := c.cmd.MarkNotificationsRead(r.Context(), commands.MarkNotificationsRead{UserID: caller(r).UserID, All: true}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.seeOther(w, r, "/notifications", "ui.notifications.marked_all")
}

type auditRow struct {
	At              time.Time
	Summary         string
	Actor, ClientIP string
	UserAgent       string
	Credential      string
	ByAnother       bool
}

func (c *Console) auditRow(v *view, e projections.AuditEntry) auditRow {
	row := auditRow{At: projections.Time(e.Time), Summary: summary.Text(e, v.Lang, v.zone), Actor: e.Actor, ClientIP: e.ClientIP, UserAgent: e.UserAgent}
	if e.CredentialKind != "" {
		row.Credential = v.T("ui.log.with_" + e.CredentialKind) // "with a session", "with a token"
	}
	row.ByAnother = e.Actor != "" && v.User != nil && e.Actor != v.User.ID
	return row
}

type logData struct {
	Rows []auditRow
	Next string
}

func (c *Console) getSecurityLog(w http.ResponseWriter, r *http.Request) {
	page, err := c.queries.AuditLog(r.Context(), caller(r).UserID, queries.AuditFilter{Cursor: r.URL.Query().Get("cursor"), Limit: 50})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := c.newView(r, "ui.security_log.title", "security_log")
	d := logData{Next: page.NextCursor}
	for _, e := range page.Entries {
		d.Rows = append(d.Rows, c.auditRow(v, e))
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "security_log", v)
}

// getSecurityLogExport streams the whole log as JSON lines or CSV, the
// same download as the API's.
func (c *Console) getSecurityLogExport(w http.ResponseWriter, r *http.Request) {
	p, req := caller(r), requestOf(r.Context())
	each := func(ctx context.Context, fn func(projections.AuditEntry) error) error {
		return c.queries.EachAuditEntry(ctx, p.UserID, queries.AuditFilter{}, func(e projections.AuditEntry, _ string) error { return fn(e) })
	}
	if err := auditexport.Write(r.Context(), w, mux.Vars(r)["format"], each, req.lang, c.zone(p.Timezone)); err != nil {
		c.log.Warn("security log export cut short", "request_id", req.id, "err", err)
	}
}

func (c *Console) getAccount(w http.ResponseWriter, r *http.Request) {
	c.page(w, r, "account", c.newView(r, "ui.account.title", "account"))
}

// postDeleteAccount deletes the account (after a recent password
// confirmation, and the box ticked).
func (c *Console) postDeleteAccount(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, "ui.account.title", "account")
	readForm(r, v, "confirm")
	if v.Form["confirm"] != "on" {
		v.Errors = append(v.Errors, fieldMessage{Field: "confirm", ID: "f-confirm", Message: v.T("ui.account.confirm_required")})
		c.render(w, r, http.StatusUnprocessableEntity, "account", v)
		return
	}
	if _, err := c.cmd.DeleteUser(r.Context(), commands.DeleteUser{UserID: caller(r).UserID, Confirmed: true}, metadata(r)); err != nil {
		c.fail(w, r, err)
		return
	}
	c.clearCookie(w, c.cookies.session)
	c.seeOtherSignedOut(w, r, "/login", "ui.account.deleted")
}
