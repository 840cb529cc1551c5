package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net/http"
	"strings"
)

// introspectionResponse is RFC 7662's answer.
type introspectionResponse struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Username  string `json:"username,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
}

// postIntrospect lets the platform's other services check a personal
// access token (RFC 7662). They authenticate with HTTP basic credentials
// configured by --introspection-client. Anything but an active personal
// access token (unknown, disabled, expired, revoked, rotated away, a
// session token) is {"active": false} and nothing more.
func (a *API) postIntrospect(w http.ResponseWriter, r *http.Request) {
	if !a.introspectionClient(r) {
		a.writeError(w, r, errBadClient)
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		a.writeError(w, r, &requestError{status: http.StatusUnsupportedMediaType, kind: "unsupported_media_type"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		a.writeError(w, r, malformed("token", "request.malformed_form"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	info, ok := a.principals.Introspect(r.PostForm.Get("token"))
	if !ok {
		writeJSON(w, http.StatusOK, introspectionResponse{Active: false})
		return
	}
	writeJSON(w, http.StatusOK, introspectionResponse{
		Active: true, Scope: strings.Join(info.Scopes, " "), Sub: info.UserID, Username: info.Username,
		Exp: info.ExpiresAt.Unix(), Iat: info.IssuedAt.Unix(), ClientID: info.TokenID, TokenType: "access_token",
	})
}

// introspectionClient checks the caller's basic credentials in constant time.
func (a *API) introspectionClient(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	want, known := a.clients[id]
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && known
}
