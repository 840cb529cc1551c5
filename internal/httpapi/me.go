package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

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

func (a *API) meFromCommand(u commands.User) meResponse {
	zone := u.Profile.PreferredTimezone
	return meResponse{
		ID: u.ID, Username: u.Username, Email: u.Profile.Email, FullName: u.Profile.FullName,
		Description: u.Profile.Description, PreferredLanguage: u.Profile.PreferredLanguage, PreferredTimezone: zone,
		RegisteredAt: a.renderTime(u.RegisteredAt, zone), UpdatedAt: a.renderTime(u.UpdatedAt, zone),
	}
}

func (a *API) meFromQuery(m queries.Me) meResponse {
	zone := m.PreferredTimezone
	return meResponse{
		ID: m.ID, Username: m.Username, Email: m.Email, FullName: m.FullName,
		Description: m.Description, PreferredLanguage: m.PreferredLanguage, PreferredTimezone: zone,
		RegisteredAt: a.renderTime(m.RegisteredAt, zone), UpdatedAt: a.renderTime(m.UpdatedAt, zone),
	}
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

// readYourWrites bounds the wait for the caller's own writes.
func (a *API) readYourWrites(r *http.Request) (context.Context, context.CancelFunc, queries.Seen) {
	ctx, cancel := context.WithTimeout(r.Context(), a.waitFor)
	var seen queries.Seen
	if p, ok := principal(r.Context()); ok {
		seen = a.seen.of(p.UserID)
	} else if p, ok := a.authenticate(r); ok {
		seen = a.seen.of(p.UserID)
	}
	return ctx, cancel, seen
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	ctx, cancel, seen := a.readYourWrites(r)
	defer cancel()
	var atLeast *uint64
	if _, revision, err := a.cmd.User(r.Context(), p.UserID); err == nil {
		atLeast = &revision
	}
	me, err := a.queries.GetMe(ctx, p.UserID, seen, atLeast)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	tag := etag(me.Revision())
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, a.meFromQuery(me))
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
	p, _ := principal(r.Context())
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
	res, err := a.cmd.UpdateProfile(r.Context(), commands.UpdateProfile{
		UserID:  p.UserID,
		IfMatch: match,
		Change:  req.change(),
	}, a.metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.seen.wrote(p.UserID, res.Position, projections.UsersProjector().Name)
	a.respondMe(w, r, p.UserID)
}

type usernameRequest struct {
	Username string `json:"username"`
}

// putUsername renames the signed-in user; the old name is free at once.
func (a *API) putUsername(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
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
	res, err := a.cmd.RenameUser(r.Context(), commands.RenameUser{UserID: p.UserID, NewUsername: req.Username, IfMatch: match}, a.metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.seen.wrote(p.UserID, res.Position, projections.UsersProjector().Name)
	a.seen.wrote(p.UserID, res.UsernamesPosition, projections.UsernamesProjector().Name)
	a.respondMe(w, r, p.UserID)
}

// respondMe answers a write with the account as the write left it.
func (a *API) respondMe(w http.ResponseWriter, r *http.Request, userID string) {
	u, revision, err := a.cmd.User(r.Context(), userID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(revision))
	writeJSON(w, http.StatusOK, a.meFromCommand(u))
}
