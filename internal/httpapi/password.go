package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/commands"
)

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	ConfirmPassword string `json:"confirm_password"`
}

// putPassword changes the password; every other session ends.
func (a *API) putPassword(w http.ResponseWriter, r *http.Request) {
	var req passwordRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := caller(r)
	if _, err := a.cmd.ChangePassword(r.Context(), commands.ChangePassword{
		UserID: p.UserID, SessionID: p.Credential.ID, Current: req.CurrentPassword, New: req.NewPassword, Confirm: req.ConfirmPassword,
	}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
