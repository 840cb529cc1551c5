package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/commands"
)

type registerRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	patchMeRequest
}

// postUser registers an account: 201 with the new profile.
func (a *API) postUser(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.cmd.RegisterUser(r.Context(), commands.RegisterUser{Username: req.Username, Password: req.Password, Profile: req.change()}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/me")
	a.writeAccount(w, http.StatusCreated, accountOfUser(res))
}
