package httpapi

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// tokenResponse is the one shape of a personal access token.
type tokenResponse struct {
	ID           string        `json:"id"`
	Title        string        `json:"title"`
	Scopes       []string      `json:"scopes"`
	ExpiresAt    string        `json:"expires_at"`
	Enabled      bool          `json:"enabled"`
	AllowedIPs   []string      `json:"allowed_ips"`
	CreatedAt    string        `json:"created_at"`
	TokenPrefix  string        `json:"token_prefix"`
	LastUsedAt   *string       `json:"last_used_at"`
	LastUsedIP   *string       `json:"last_used_ip"`
	Expired      bool          `json:"expired"`
	Revoked      bool          `json:"revoked"`
	Token        string        `json:"token,omitempty"`         // the full token: in the create and rotate answers only
	ScopeDetails []scopeDetail `json:"scope_details,omitempty"` // in a single token's answer
}

type scopeDetail struct {
	Scope       string `json:"scope"`
	Description string `json:"description"`
}

// tokenView is a token before rendering, from a command or the read model.
type tokenView struct {
	id, title, prefix, lastUsedIP  string
	scopes, allowedIPs             []string
	expiresAt, createdAt, lastUsed time.Time
	enabled, revoked               bool
}

func viewOfToken(t commands.Token) tokenView {
	return tokenView{id: t.ID, title: t.Title, prefix: t.Prefix, lastUsedIP: t.LastUsedIP, scopes: t.Scopes, allowedIPs: t.AllowedIPs,
		expiresAt: t.ExpiresAt, createdAt: t.CreatedAt, lastUsed: t.LastUsedAt, enabled: t.Enabled, revoked: t.Revoked}
}

func viewOfDoc(t queries.Token) tokenView {
	v := tokenView{id: t.ID, title: t.Title, prefix: t.TokenPrefix, lastUsedIP: t.LastUsedIP, scopes: t.Scopes,
		expiresAt: projections.Time(t.ExpiresAt), createdAt: projections.Time(t.CreatedAt), lastUsed: projections.Time(t.LastUsedAt)}
	if t.AllowedIPs != nil {
		v.allowedIPs = *t.AllowedIPs
	}
	v.enabled = t.Enabled != nil && *t.Enabled
	v.revoked = t.Revoked != nil && *t.Revoked
	return v
}

func (a *API) renderToken(v tokenView, zone string) tokenResponse {
	out := tokenResponse{ID: v.id, Title: v.title, Scopes: v.scopes, ExpiresAt: a.renderTime(v.expiresAt, zone), Enabled: v.enabled,
		AllowedIPs: v.allowedIPs, CreatedAt: a.renderTime(v.createdAt, zone), TokenPrefix: v.prefix,
		Expired: !a.now().Before(v.expiresAt), Revoked: v.revoked}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if out.AllowedIPs == nil {
		out.AllowedIPs = []string{}
	}
	if !v.lastUsed.IsZero() {
		at, ip := a.renderTime(v.lastUsed, zone), v.lastUsedIP
		out.LastUsedAt, out.LastUsedIP = &at, &ip
	}
	return out
}

func (a *API) scopeDetails(names []string, lang string) []scopeDetail {
	out := make([]scopeDetail, len(names))
	for i, n := range names {
		desc := a.cmd.Scopes().Description(n)
		if desc == "" {
			desc = a.catalogs.message(lang, "scope."+n, nil)
		}
		out[i] = scopeDetail{Scope: n, Description: desc}
	}
	return out
}

type createTokenRequest struct {
	Title      string   `json:"title"`
	Scopes     []string `json:"scopes"`
	ExpiresAt  string   `json:"expires_at"`
	Enabled    *bool    `json:"enabled"`
	AllowedIPs []string `json:"allowed_ips"`
}

// parseTime reads an RFC 3339 time field; "" is no time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, &commands.ValidationError{Violations: []validate.Violation{{Field: field, Code: "expires_at.invalid"}}}
	}
	return t, nil
}

// actorOf is who acts on tokens: a session, with full control, or a token
// with its own scopes, addresses and expiry, which it cannot go beyond.
func actorOf(p principals.Principal) commands.Actor {
	if p.Credential.Kind == principals.KindSession {
		return commands.Actor{Session: true}
	}
	a := commands.Actor{TokenID: p.Credential.ID, Scopes: p.Credential.Scopes, ExpiresAt: p.Credential.ExpiresAt}
	for _, prefix := range p.Credential.AllowedIPs {
		a.AllowedIPs = append(a.AllowedIPs, prefix.String())
	}
	return a
}

// postToken creates a token: 201 with the full token, shown this once.
func (a *API) postToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	expires, err := parseTime("expires_at", req.ExpiresAt)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	enabled := req.Enabled == nil || *req.Enabled
	p := caller(r)
	res, err := a.cmd.CreateToken(r.Context(), commands.CreateToken{UserID: p.UserID, Actor: actorOf(p), Spec: commands.TokenSpec{
		Title: req.Title, Scopes: req.Scopes, ExpiresAt: expires, Enabled: enabled, AllowedIPs: req.AllowedIPs,
	}}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := a.renderToken(viewOfToken(res.Token), p.Timezone)
	out.Token = res.Secret
	w.Header().Set("Location", "/v1/me/tokens/"+res.Token.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

type tokensResponse struct {
	Tokens []tokenResponse `json:"tokens"`
}

// getTokens lists every token, expired and revoked ones marked.
func (a *API) getTokens(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	list, err := a.queries.ListTokens(r.Context(), subject(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := tokensResponse{Tokens: make([]tokenResponse, len(list))}
	for i, t := range list {
		out.Tokens[i] = a.renderToken(viewOfDoc(t), p.Timezone)
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, out)
}

// getToken shows one token with its scopes explained.
func (a *API) getToken(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	t, err := a.queries.GetToken(r.Context(), subject(r), mux.Vars(r)["id"])
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := a.renderToken(viewOfDoc(t), p.Timezone)
	out.ScopeDetails = a.scopeDetails(out.Scopes, responseLanguage(r))
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, out)
}

type patchTokenRequest struct {
	Title      optionalString  `json:"title"`
	Enabled    *bool           `json:"enabled"`
	AllowedIPs optionalStrings `json:"allowed_ips"`
}

// patchToken changes the title, enabled flag or allowed addresses.
func (a *API) patchToken(w http.ResponseWriter, r *http.Request) {
	var req patchTokenRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := caller(r)
	res, err := a.cmd.UpdateToken(r.Context(), commands.UpdateToken{UserID: p.UserID, TokenID: mux.Vars(r)["id"], Actor: actorOf(p),
		Change: commands.TokenChange{Title: req.Title.ptr(), Enabled: req.Enabled, AllowedIPs: req.AllowedIPs.ptr()}}, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, a.renderToken(viewOfToken(res.Token), p.Timezone))
}

// deleteToken revokes a token and removes it from the list.
func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.DeleteToken(r.Context(), commands.DeleteToken{UserID: subject(r), TokenID: mux.Vars(r)["id"], Actor: actorOf(caller(r))}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteTokens revokes every token of the user.
func (a *API) deleteTokens(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.DeleteAllTokens(r.Context(), commands.DeleteAllTokens{UserID: subject(r), Actor: actorOf(caller(r))}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type rotateRequest struct {
	ExpiresAt string `json:"expires_at"`
}

func (a *API) rotateToken(w http.ResponseWriter, r *http.Request) {
	a.rotate(w, r, mux.Vars(r)["id"])
}

// rotateSelf lets a token renew its secret: automation needs no person.
// It keeps its expiry (or takes an earlier one): only a person's session
// extends a token's life.
func (a *API) rotateSelf(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if p.Credential.Kind != principals.KindToken {
		a.writeError(w, r, commands.ErrTokenNotFound) // a session is no token
		return
	}
	a.rotate(w, r, p.Credential.ID)
}

// rotate gives the token a new secret, returned once; the old one stops
// working, and presenting it again revokes the new one.
func (a *API) rotate(w http.ResponseWriter, r *http.Request, tokenID string) {
	var req rotateRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	cmd := commands.RotateToken{UserID: caller(r).UserID, TokenID: tokenID, Actor: actorOf(caller(r))}
	if req.ExpiresAt != "" {
		t, err := parseTime("expires_at", req.ExpiresAt)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		cmd.ExpiresAt = &t
	}
	res, err := a.cmd.RotateToken(r.Context(), cmd, metadata(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := a.renderToken(viewOfToken(res.Token), caller(r).Timezone)
	out.Token = res.Secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

type revokeRequest struct {
	Tokens []string `json:"tokens"`
}

// postRevokeTokens revokes leaked tokens for anyone who found them: 202
// whatever it was given, saying nothing about which tokens existed.
func (a *API) postRevokeTokens(w http.ResponseWriter, r *http.Request) {
	var req revokeRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.cmd.RevokeTokens(r.Context(), commands.RevokeTokens{Tokens: req.Tokens}, metadata(r)); err != nil {
		a.log.Error("reported tokens not all revoked", "err", err)
	}
	w.WriteHeader(http.StatusAccepted)
}
