package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/notices"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

type preferencesBody struct {
	Categories map[string]events.Channels `json:"categories"`
	LeadDays   []int                      `json:"lead_days"`
}

func preferencesOf(p commands.Preferences) preferencesBody {
	return preferencesBody{Categories: p.Categories, LeadDays: p.LeadDays}
}

func (a *API) getNotificationPreferences(w http.ResponseWriter, r *http.Request) {
	state, err := a.queries.NotificationState(r.Context(), subject(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	prefs := commands.PreferencesOver(state.Categories, state.LeadDays)
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, preferencesOf(prefs))
}

// putNotificationPreferences replaces the preferences; categories left out
// take their defaults.
func (a *API) putNotificationPreferences(w http.ResponseWriter, r *http.Request) {
	var req preferencesBody
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	prefs, err := a.cmd.SetNotificationPreferences(r.Context(), commands.SetNotificationPreferences{UserID: subject(r),
		Preferences: commands.Preferences{Categories: req.Categories, LeadDays: req.LeadDays}}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, preferencesOf(prefs))
}

type notificationResponse struct {
	ID        string            `json:"id"`
	Kind      string            `json:"kind"`
	Category  string            `json:"category"`
	Title     string            `json:"title"`
	Params    map[string]string `json:"params"`
	Read      bool              `json:"read"`
	CreatedAt string            `json:"created_at"`
	Erased    bool              `json:"erased,omitempty"` // params erased with the account are left out
}

type notificationsResponse struct {
	Notifications []notificationResponse `json:"notifications"`
	NextCursor    *string                `json:"next_cursor"`
	UnreadOnPage  int                    `json:"unread_on_page"`
}

// getNotifications is the feed, newest first, a page at a time.
func (a *API) getNotifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			a.writeError(w, r, &commands.ValidationError{Violations: []validate.Violation{{Field: "limit", Code: "limit.out_of_range", Params: map[string]int{"max": 100}}}})
			return
		}
		limit = n
	}
	page, err := a.queries.ListNotifications(r.Context(), subject(r), q.Get("cursor"), limit)
	if err != nil {
		if err == queries.ErrBadCursor {
			err = &commands.ValidationError{Violations: []validate.Violation{{Field: "cursor", Code: "cursor.invalid"}}}
		}
		a.writeError(w, r, err)
		return
	}
	lang, zone := responseLanguage(r), caller(r).Timezone
	out := notificationsResponse{Notifications: make([]notificationResponse, len(page.Notifications)), UnreadOnPage: page.Unread}
	for i, n := range page.Notifications {
		params := n.Params
		if params == nil {
			params = map[string]string{}
		}
		out.Notifications[i] = notificationResponse{ID: n.ID, Kind: n.Kind, Category: n.Category, Title: notices.FeedTitle(n.Kind, lang, params, n.Erased),
			Params: params, Read: n.Read, CreatedAt: a.renderTime(projections.Time(n.At), zone), Erased: len(n.Erased) > 0}
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, out)
}

func (a *API) postNotificationRead(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.MarkNotificationsRead(r.Context(), commands.MarkNotificationsRead{UserID: subject(r), IDs: []string{mux.Vars(r)["id"]}}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) postNotificationsReadAll(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.MarkNotificationsRead(r.Context(), commands.MarkNotificationsRead{UserID: subject(r), All: true}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type outboxMail struct {
	UserID         string `json:"user_id"`
	NotificationID string `json:"notification_id"`
	To             string `json:"to"`
	Subject        string `json:"subject"`
	Body           string `json:"body"`
	Kind           string `json:"kind"`
	CreatedAt      string `json:"created_at"`
	// Failed attempts to send it, the last one's error, and when the
	// next is due (null before any failure).
	Attempts      int     `json:"attempts"`
	LastError     *string `json:"last_error"`
	NextAttemptAt *string `json:"next_attempt_at"`
}

type outboxResponse struct {
	Emails []outboxMail `json:"emails"`
}

// getOutbox shows admins the e-mails waiting for an SMTP relay, with
// their failed attempts.
func (a *API) getOutbox(w http.ResponseWriter, r *http.Request) {
	list, err := a.queries.Outbox(r.Context(), 500)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := outboxResponse{Emails: make([]outboxMail, len(list))}
	for i, m := range list {
		out.Emails[i] = outboxMail{UserID: m.UserID, NotificationID: m.NotificationID, To: m.To, Subject: m.Subject, Body: m.Body, Kind: m.Kind,
			CreatedAt: a.renderTime(projections.Time(m.CreatedAt), caller(r).Timezone), Attempts: m.Attempts}
		if m.Attempts > 0 {
			lastError, next := m.LastError, a.renderTime(projections.Time(m.RetryAt), caller(r).Timezone)
			out.Emails[i].LastError, out.Emails[i].NextAttemptAt = &lastError, &next
		}
	}
	w.Header().Set("Cache-Control", "private, no-store")
	writeJSON(w, http.StatusOK, out)
}
