package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/accountd/accountd/internal/principals"
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
	// AllowedIPs: the addresses the token may be used from, [] for any;
	// in an active answer only (an extension of RFC 7662's members).
	AllowedIPs *[]string `json:"allowed_ips,omitempty"`
}

// postIntrospect lets the platform's other services check a personal
// access token (RFC 7662). They authenticate with HTTP basic credentials
// configured as introspection clients. Anything but an active personal
// access token (unknown, disabled, expired, revoked, rotated away, a
// session token) is {"active": false} and nothing more. The service may
// send the address its own client called from as client_ip (RFC 7662
// allows extra parameters): a token that may not be used from there is
// inactive too; without it, the answer's allowed_ips are the service's to
// check.
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
	var from *netip.Addr
	if s, given := r.PostForm["client_ip"]; given {
		ip, err := netip.ParseAddr(strings.TrimSpace(s[0]))
		if err != nil || len(s) > 1 {
			a.writeError(w, r, malformed("client_ip", "client_ip.invalid"))
			return
		}
		from = &ip
	}
	w.Header().Set("Cache-Control", "no-store")
	info, ok := a.principals.Introspect(r.PostForm.Get("token"))
	if !ok || from != nil && !principals.AddressAllowed(info.AllowedIPs, *from) {
		writeJSON(w, http.StatusOK, introspectionResponse{Active: false})
		return
	}
	allowed := make([]string, len(info.AllowedIPs))
	for i, p := range info.AllowedIPs {
		allowed[i] = p.String()
	}
	writeJSON(w, http.StatusOK, introspectionResponse{
		Active: true, Scope: strings.Join(info.Scopes, " "), Sub: info.UserID, Username: info.Username,
		Exp: info.ExpiresAt.Unix(), Iat: info.IssuedAt.Unix(), ClientID: info.TokenID, TokenType: "access_token", AllowedIPs: &allowed,
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
