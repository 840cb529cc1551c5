package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/validate"
)

type signInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// postSession signs in. Attempts are limited per client address and per
// account, and run one at a time per account, so parallel guesses cannot
// get around the limit.
func (a *API) postSession(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := required(map[string]string{"username": req.Username, "password": req.Password}); err != nil {
		a.writeError(w, r, err)
		return
	}
	if ok, wait := a.addressLimiter.Allow(clientIP(r)); !ok {
		a.writeError(w, r, &rateLimitedError{retryAfter: wait})
		return
	}
	account := validate.CanonicalUsername(req.Username)
	unlock := a.signInLocks.Lock(account)
	defer unlock()
	if ok, wait := a.accountLimiter.Allow(account); !ok {
		a.writeError(w, r, &rateLimitedError{retryAfter: wait})
		return
	}
	in, err := a.cmd.SignIn(r.Context(), commands.SignIn{Username: req.Username, Password: req.Password}, a.metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	zone := ""
	if u, _, err := a.cmd.User(r.Context(), in.UserID); err == nil {
		zone = u.Profile.PreferredTimezone
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, sessionResponse{Token: in.Token, ExpiresAt: a.renderTime(in.ExpiresAt, zone)})
}

// deleteCurrentSession signs out: the token stops working at once.
func (a *API) deleteCurrentSession(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	if _, err := a.cmd.SignOut(r.Context(), commands.SignOut{UserID: p.UserID, SessionID: p.SessionID}, a.metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
