package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/commands"
)

type signInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// DeviceHeader carries the device value: the answer to a sign-in gives it,
// the client sends it back with its next sign-in, which a distributed
// guessing attack on the account then does not block.
const DeviceHeader = "Accountd-Device"

// postSession signs in; throttling is the sign-in use case's.
func (a *API) postSession(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	in, err := a.cmd.SignIn(r.Context(), commands.SignIn{Username: req.Username, Password: req.Password, Device: r.Header.Get(DeviceHeader)}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The index was told of the new session: it knows the user's zone.
	p, _ := a.principals.Authenticate(in.Token, clientIP(r))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(DeviceHeader, in.Device)
	writeJSON(w, http.StatusCreated, sessionResponse{Token: in.Token, ExpiresAt: a.renderTime(in.ExpiresAt, p.Timezone)})
}

// deleteCurrentSession signs out: the token stops working at once.
func (a *API) deleteCurrentSession(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if _, err := a.cmd.SignOut(r.Context(), commands.SignOut{UserID: p.UserID, SessionID: p.Credential.ID}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
