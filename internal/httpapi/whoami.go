package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/internal/principals"
)

type whoamiResponse struct {
	UserID     string             `json:"user_id"`
	Username   string             `json:"username"`
	Credential credentialResponse `json:"credential"`
}

type credentialResponse struct {
	Kind      string   `json:"kind"`
	ID        string   `json:"id"`
	Scopes    []string `json:"scopes"`
	ExpiresAt string   `json:"expires_at"`
}

// getWhoami says who the credential belongs to; it needs no scope.
func (a *API) getWhoami(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	held := p.Credential.Scopes
	if p.Credential.Kind == principals.KindSession {
		held = a.cmd.Scopes().Names() // a session holds every scope
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, whoamiResponse{UserID: p.UserID, Username: p.Username, Credential: credentialResponse{
		Kind: p.Credential.Kind, ID: p.Credential.ID, Scopes: held, ExpiresAt: a.renderTime(p.Credential.ExpiresAt, p.Timezone),
	}})
}
