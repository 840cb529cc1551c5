package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/auditexport"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

type auditPageResponse struct {
	Entries    []auditexport.Entry `json:"entries"`
	NextCursor *string             `json:"next_cursor"`
}

// auditFilter reads ?type= ?since= ?until= ?limit= ?cursor=.
func auditFilter(r *http.Request) (queries.AuditFilter, error) {
	q := r.URL.Query()
	f := queries.AuditFilter{TypePrefix: q.Get("type"), Cursor: q.Get("cursor"), Limit: 50}
	var vs []validate.Violation
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				vs = append(vs, validate.Violation{Field: p.name, Code: "time.invalid"})
			}
			*p.dst = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			vs = append(vs, validate.Violation{Field: "limit", Code: "limit.out_of_range", Params: map[string]int{"max": 200}})
		}
		f.Limit = n
	}
	if len(vs) > 0 {
		return f, &commands.ValidationError{Violations: vs}
	}
	return f, nil
}

// exportFormat picks JSON lines or CSV from ?format= or Accept; "" is a page.
func exportFormat(r *http.Request) string {
	switch f := r.URL.Query().Get("format"); f {
	case "ndjson", "csv":
		return f
	}
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/x-ndjson"):
		return "ndjson"
	case strings.Contains(accept, "text/csv"):
		return "csv"
	}
	return ""
}

// getAudit is the user's own security log, newest first: a page, or the
// whole (filtered) log streamed as JSON lines or CSV.
func (a *API) getAudit(w http.ResponseWriter, r *http.Request) {
	a.serveAudit(w, r, "")
}

// getTokenActivity is what one of the user's tokens did.
func (a *API) getTokenActivity(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	p := caller(r)
	if t, err := a.queries.GetToken(r.Context(), p.UserID, id); err != nil && !errors.Is(err, queries.ErrNotFound) {
		a.writeError(w, r, err)
		return
	} else if err == nil && id != p.Credential.ID {
		// A token reads the activity of the tokens within its reach only.
		v := viewOfDoc(t)
		if err := actorOf(p).MayReach(commands.TokenReach{Scopes: v.scopes, AllowedIPs: v.allowedIPs, ExpiresAt: v.expiresAt}); err != nil {
			a.writeError(w, r, err)
			return
		}
	} else if err != nil {
		// A deleted token's activity is still the user's to see, with a
		// session: how far the token reached is no longer known.
		f := queries.AuditFilter{CredentialID: id, Limit: 1}
		if page, err := a.queries.AuditLog(r.Context(), caller(r).UserID, f); err != nil || len(page.Entries) == 0 {
			a.writeError(w, r, commands.ErrTokenNotFound)
			return
		}
		if p.Credential.Kind != principals.KindSession {
			a.writeError(w, r, errSessionRequired)
			return
		}
	}
	a.serveAudit(w, r, id)
}

func (a *API) serveAudit(w http.ResponseWriter, r *http.Request, credentialID string) {
	p := caller(r)
	f, err := auditFilter(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	f.CredentialID = credentialID
	lang, zone := responseLanguage(r), a.location(p.Timezone)
	w.Header().Set("Cache-Control", "private, no-cache")
	if format := exportFormat(r); format != "" {
		account := subject(r)
		all := queries.AuditFilter{TypePrefix: f.TypePrefix, Since: f.Since, Until: f.Until, CredentialID: f.CredentialID}
		each := func(ctx context.Context, fn func(projections.AuditEntry) error) error {
			return a.queries.EachAuditEntry(ctx, account, all, func(e projections.AuditEntry, _ string) error { return fn(e) })
		}
		if err := auditexport.Write(r.Context(), w, format, each, lang, zone); err != nil {
			a.log.Warn("audit export cut short", "request_id", requestOf(r.Context()).id, "err", err)
		}
		return
	}
	page, err := a.queries.AuditLog(r.Context(), subject(r), f)
	if err != nil {
		if errors.Is(err, queries.ErrBadCursor) {
			err = &commands.ValidationError{Violations: []validate.Violation{{Field: "cursor", Code: "cursor.invalid"}}}
		}
		a.writeError(w, r, err)
		return
	}
	out := auditPageResponse{Entries: make([]auditexport.Entry, len(page.Entries))}
	for i, e := range page.Entries {
		out.Entries[i] = auditexport.Of(e, lang, zone)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
}

type holdingResponse struct {
	UserID   string  `json:"user_id"`
	Username string  `json:"username"`
	From     string  `json:"from"`
	Until    *string `json:"until"`
}

type usernameHistoryResponse struct {
	Username string            `json:"username"`
	Holdings []holdingResponse `json:"holdings"`
}

func holding(h projections.Holding) holdingResponse {
	out := holdingResponse{UserID: h.UserID, Username: h.Username, From: h.From.UTC().Format(time.RFC3339Nano)}
	if !h.Until.IsZero() {
		u := h.Until.UTC().Format(time.RFC3339Nano)
		out.Until = &u
	}
	return out
}

// getUsernameHistory is every holding of a name (admins only), or with
// ?at= the holding in force then.
func (a *API) getUsernameHistory(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["username"]
	var at time.Time
	if s := r.URL.Query().Get("at"); s != "" {
		var err error
		if at, err = time.Parse(time.RFC3339Nano, s); err != nil {
			a.writeError(w, r, &commands.ValidationError{Violations: []validate.Violation{{Field: "at", Code: "time.invalid"}}})
			return
		}
	}
	hs, err := a.queries.UsernameHistory(r.Context(), caller(r).UserID, name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	if !at.IsZero() {
		h, ok := projections.HolderAt(hs, at)
		if !ok {
			a.writeError(w, r, errNoHolder)
			return
		}
		writeJSON(w, http.StatusOK, holding(h))
		return
	}
	out := usernameHistoryResponse{Username: strings.ToLower(name), Holdings: make([]holdingResponse, len(hs))}
	for i, h := range hs {
		out.Holdings[i] = holding(h)
	}
	writeJSON(w, http.StatusOK, out)
}
