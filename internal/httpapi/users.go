package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/projections"
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
	reg, err := a.cmd.RegisterUser(r.Context(), commands.RegisterUser{
		Username: req.Username,
		Password: req.Password,
		Profile:  req.change(),
	}, a.metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.seen.wrote(reg.UserID, reg.Position, projections.UsersProjector().Name)
	a.seen.wrote(reg.UserID, reg.UsernamesPosition, projections.UsernamesProjector().Name)
	user, revision, err := a.cmd.User(r.Context(), reg.UserID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/me")
	w.Header().Set("ETag", etag(revision))
	writeJSON(w, http.StatusCreated, a.meFromCommand(user))
}
