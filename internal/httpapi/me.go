package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
)

// meResponse is the one shape of the account resource, whether it comes
// from a command's result or from the read model.
type meResponse struct {
	ID                string `json:"id"`
	Username          string `json:"username"`
	Email             string `json:"email"`
	FullName          string `json:"full_name"`
	Description       string `json:"description"`
	PreferredLanguage string `json:"preferred_language"`
	PreferredTimezone string `json:"preferred_timezone"`
	RegisteredAt      string `json:"registered_at"`
	UpdatedAt         string `json:"updated_at"`
}

// account is the resource before rendering.
type account struct {
	id, username            string
	profile                 events.Profile
	registeredAt, updatedAt time.Time
	revision                uint64
}

func accountOfUser(res commands.UserResult) account {
	u := res.User
	return account{id: u.ID, username: u.Username, profile: u.Profile, registeredAt: u.RegisteredAt, updatedAt: u.UpdatedAt, revision: res.Revision}
}

func accountOfDoc(d projections.UserDoc) account {
	registered, _ := time.Parse(time.RFC3339Nano, d.RegisteredAt)
	updated, _ := time.Parse(time.RFC3339Nano, d.UpdatedAt)
	return account{id: d.ID, username: d.Username, profile: d.Profile, registeredAt: registered, updatedAt: updated, revision: d.Revision()}
}

func (a *API) writeAccount(w http.ResponseWriter, status int, acc account) {
	zone := events.Value(acc.profile.PreferredTimezone)
	w.Header().Set("ETag", etag(acc.revision))
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store") // a write's answer: personal data, never kept
	}
	writeJSON(w, status, meResponse{
		ID: acc.id, Username: acc.username,
		Email:             events.Value(acc.profile.Email),
		FullName:          events.Value(acc.profile.FullName),
		Description:       events.Value(acc.profile.Description),
		PreferredLanguage: events.Value(acc.profile.PreferredLanguage),
		PreferredTimezone: zone,
		RegisteredAt:      a.renderTime(acc.registeredAt, zone),
		UpdatedAt:         a.renderTime(acc.updatedAt, zone),
	})
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
	a.writeAccount(w, http.StatusOK, accountOfDoc(doc))
}

type patchMeRequest struct {
	Email             optionalString `json:"email"`
	FullName          optionalString `json:"full_name"`
	Description       optionalString `json:"description"`
	PreferredLanguage optionalString `json:"preferred_language"`
	PreferredTimezone optionalString `json:"preferred_timezone"`
}

func (req patchMeRequest) change() commands.ProfileChange {
	return commands.ProfileChange{
		Email:             req.Email.ptr(),
		FullName:          req.FullName.ptr(),
		Description:       req.Description.ptr(),
		PreferredLanguage: req.PreferredLanguage.ptr(),
		PreferredTimezone: req.PreferredTimezone.ptr(),
	}
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
	res, err := a.cmd.RenameUser(r.Context(), commands.RenameUser{UserID: caller(r).UserID, NewUsername: req.Username, IfMatch: match}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeAccount(w, http.StatusOK, accountOfUser(res))
}
