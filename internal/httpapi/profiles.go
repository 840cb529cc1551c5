package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"
)

type profileResponse struct {
	Username    string `json:"username"`
	FullName    string `json:"full_name"`
	Description string `json:"description"`
	PictureURL  string `json:"picture_url,omitempty"`
}

// getProfile shows anyone the public profile of whoever carries a name now.
func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.queries.GetProfile(r.Context(), caller(r).UserID, mux.Vars(r)["username"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=0, must-revalidate")
	writeJSON(w, http.StatusOK, profileResponse{Username: p.Username, FullName: p.FullName, Description: p.Description, PictureURL: p.PictureURL})
}
