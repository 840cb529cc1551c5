package httpapi

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// serviceCredentialResponse is the one shape of a service credential: never the
// secret, only that one is set and when it changed.
type serviceCredentialResponse struct {
	ID              string  `json:"id"`
	Service         string  `json:"service"`
	URL             string  `json:"url"`
	Username        string  `json:"username"`
	Note            string  `json:"note"`
	SecretSet       bool    `json:"secret_set"`
	SecretChangedAt string  `json:"secret_changed_at"`
	ExpiresAt       *string `json:"expires_at"`
	Expired         bool    `json:"expired"`
	ProvisionedBy   *string `json:"provisioned_by"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
	LastRevealedAt  *string `json:"last_revealed_at"`
}

func (a *API) renderCredential(c queries.Credential, zone string) serviceCredentialResponse {
	out := serviceCredentialResponse{ID: c.ID, Service: c.Service, URL: c.URL, Username: c.Username, Note: c.Note, SecretSet: c.SecretSet,
		SecretChangedAt: a.renderTime(projections.Time(c.SecretChangedAt), zone),
		CreatedAt:       a.renderTime(projections.Time(c.CreatedAt), zone), UpdatedAt: a.renderTime(projections.Time(c.UpdatedAt), zone)}
	if c.ExpiresAt != "" {
		at := projections.Time(c.ExpiresAt)
		s := a.renderTime(at, zone)
		out.ExpiresAt, out.Expired = &s, !a.now().Before(at)
	}
	if c.ProvisionedBy != "" {
		out.ProvisionedBy = &c.ProvisionedBy
	}
	if c.LastRevealedAt != "" {
		s := a.renderTime(projections.Time(c.LastRevealedAt), zone)
		out.LastRevealedAt = &s
	}
	return out
}

// credentialOf is a command's result in the read model's shape.
func credentialOf(c commands.ServiceCredential) queries.Credential {
	doc := projections.CredentialDoc{Service: c.Service, URL: c.URL, Username: c.Username, Note: c.Note, SecretSet: c.Secret != "",
		SecretChangedAt: stampOf(c.SecretChangedAt), ProvisionedBy: c.ProvisionedBy, CreatedAt: stampOf(c.CreatedAt), UpdatedAt: stampOf(c.UpdatedAt)}
	if !c.ExpiresAt.IsZero() {
		doc.ExpiresAt = stampOf(c.ExpiresAt)
	}
	return queries.Credential{ID: c.ID, CredentialDoc: doc}
}

func stampOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

type createCredentialRequest struct {
	Service   string `json:"service"`
	URL       string `json:"url"`
	Username  string `json:"username"`
	Secret    string `json:"secret"`
	Note      string `json:"note"`
	ExpiresAt string `json:"expires_at"`
}

// postCredential stores a service credential: 201, without the secret. On
// an admin route it is provisioned for the account named, marked so.
func (a *API) postCredential(w http.ResponseWriter, r *http.Request) {
	var req createCredentialRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	spec := commands.CredentialSpec{Service: &req.Service, URL: &req.URL, Username: &req.Username, Secret: &req.Secret, Note: &req.Note}
	if req.ExpiresAt != "" {
		at, err := parseTime("expires_at", req.ExpiresAt)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		spec.ExpiresAt = &at
	}
	cmd := commands.CreateCredential{UserID: subject(r), Spec: spec}
	if cmd.UserID != caller(r).UserID {
		cmd.ProvisionedBy = caller(r).UserID
	}
	res, err := a.cmd.CreateCredential(r.Context(), cmd, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/me/credentials/"+res.Credential.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, a.renderCredential(credentialOf(res.Credential), caller(r).Timezone))
}

type serviceCredentialsResponse struct {
	Credentials []serviceCredentialResponse `json:"credentials"`
}

func (a *API) getCredentials(w http.ResponseWriter, r *http.Request) {
	list, err := a.queries.ListCredentials(r.Context(), subject(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := serviceCredentialsResponse{Credentials: make([]serviceCredentialResponse, len(list))}
	for i, c := range list {
		out.Credentials[i] = a.renderCredential(c, caller(r).Timezone)
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getCredential(w http.ResponseWriter, r *http.Request) {
	c, err := a.queries.GetCredential(r.Context(), subject(r), mux.Vars(r)["id"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, a.renderCredential(c, caller(r).Timezone))
}

type patchCredentialRequest struct {
	Service   optionalString `json:"service"`
	URL       optionalString `json:"url"`
	Username  optionalString `json:"username"`
	Secret    optionalString `json:"secret"`
	Note      optionalString `json:"note"`
	ExpiresAt optionalString `json:"expires_at"` // null or "": never expires
}

func (a *API) patchCredential(w http.ResponseWriter, r *http.Request) {
	var req patchCredentialRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	spec := commands.CredentialSpec{Service: req.Service.ptr(), URL: req.URL.ptr(), Username: req.Username.ptr(), Secret: req.Secret.ptr(), Note: req.Note.ptr()}
	if req.ExpiresAt.set {
		if req.ExpiresAt.value == "" {
			spec.ClearExpiry = true
		} else {
			at, err := parseTime("expires_at", req.ExpiresAt.value)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			spec.ExpiresAt = &at
		}
	}
	res, err := a.cmd.UpdateCredential(r.Context(), commands.UpdateCredential{UserID: subject(r), CredentialID: mux.Vars(r)["id"], Spec: spec}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, a.renderCredential(credentialOf(res.Credential), caller(r).Timezone))
}

func (a *API) deleteCredential(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.DeleteCredential(r.Context(), commands.DeleteCredential{UserID: subject(r), CredentialID: mux.Vars(r)["id"]}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type revealRequest struct {
	CurrentPassword string `json:"current_password"`
}

type revealResponse struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// postReveal shows the secret to its owner, in this response only; the
// reveal is recorded in the security log.
func (a *API) postReveal(w http.ResponseWriter, r *http.Request) {
	var req revealRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	id := mux.Vars(r)["id"]
	res, err := a.cmd.RevealCredential(r.Context(), commands.RevealCredential{UserID: caller(r).UserID, CredentialID: id, CurrentPassword: req.CurrentPassword}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, revealResponse{ID: id, Secret: res.Secret})
}
