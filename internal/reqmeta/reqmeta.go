// Package reqmeta is what the API and the console read the same way from
// an HTTP request: its ids, the client's address, who asks (for the
// events a command writes), and the status written (for the access log).
package reqmeta

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/principals"
)

// MaxLogged bounds what a log line keeps of anything the client sent.
const MaxLogged = 64

// safeID is what a caller's id may be: it goes into logs and events (at
// most MaxLogged characters).
var safeID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Method is the request's method as logs and metric labels show it: a
// client may send any token as a method, of any length, so anything but
// the standard methods is "OTHER".
func Method(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return r.Method
	}
	return "OTHER"
}

// IDs are the request's id (the caller's X-Request-ID when it is safe to
// log, else a new one) and its correlation id (X-Correlation-ID when safe,
// else the request id).
func IDs(r *http.Request) (requestID, correlationID string) {
	if requestID = r.Header.Get("X-Request-ID"); !safeID.MatchString(requestID) {
		requestID = uuid.NewString()
	}
	if correlationID = r.Header.Get("X-Correlation-ID"); !safeID.MatchString(correlationID) {
		correlationID = requestID
	}
	return requestID, correlationID
}

// ClientIP is the client's address: as TrustProxies resolved it for the
// request, else the peer's.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientKey{}).(string); ok {
		return ip
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type clientKey struct{}

// TrustProxies resolves the client's address once per request, for
// everything after it (limits per address, sign-in records, tokens'
// allowed addresses, logs): behind proxies in trusted (none: the peer is
// the client), the rightmost X-Forwarded-For address not in them.
func TrustProxies(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := ResolveClient(peerIP(r), r.Header.Values("X-Forwarded-For"), trusted)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, ip)))
	})
}

// ResolveClient is the client's address given the peer's and the
// X-Forwarded-For header lines: a peer not in trusted is the client (its
// header is anyone's to forge); from a trusted peer, the rightmost
// forwarded address not in trusted (each proxy appends the address it
// heard from, so the ones left of it are the client's to forge), or the
// leftmost when all are trusted. A malformed header (anything but
// addresses, an address with a port, too many) is not trusted: the peer.
func ResolveClient(peer string, forwardedFor []string, trusted []netip.Prefix) string {
	if !inPrefixes(peer, trusted) || len(forwardedFor) == 0 {
		return peer
	}
	var hops []netip.Addr
	for _, line := range forwardedFor {
		for _, part := range strings.Split(line, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil || ip.Zone() != "" || len(hops) == maxForwardedHops {
				return peer
			}
			hops = append(hops, ip.Unmap())
		}
	}
	for i := len(hops) - 1; i > 0; i-- {
		if !inPrefixes(hops[i].String(), trusted) {
			return hops[i].String()
		}
	}
	return hops[0].String()
}

// maxForwardedHops bounds the proxies a request may have passed.
const maxForwardedHops = 32

func inPrefixes(addr string, prefixes []netip.Prefix) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses comma-separated CIDRs (a bare address is one
// address); "" is none.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if ip, err := netip.ParseAddr(part); err == nil {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8 or an address", part)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// maxUserAgent bounds what an event keeps of a User-Agent.
const maxUserAgent = 256

// Metadata describes who asks, for the events a command writes; caller is
// nil for an anonymous request.
func Metadata(r *http.Request, requestID, correlationID string, caller *principals.Principal) events.Metadata {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	m := events.Metadata{Actor: events.ActorAnonymous, CorrelationID: correlationID, CausationID: requestID, ClientIP: ClientIP(r), UserAgent: ua}
	if caller != nil {
		m.Actor = caller.UserID
		m.CredentialKind, m.CredentialID = caller.Credential.Kind, caller.Credential.ID
	}
	return m
}

// RouteTemplate is the matched route's template, never the raw path
// (which carries usernames and ids); "" when no route matched.
func RouteTemplate(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if tmpl, err := route.GetPathTemplate(); err == nil {
			return tmpl
		}
	}
	return ""
}

// StatusWriter records the status and the bytes written.
type StatusWriter struct {
	http.ResponseWriter
	Status int
	Bytes  int64
	wrote  bool
}

// NewStatusWriter wraps w; the status is 200 until one is written.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	return &StatusWriter{ResponseWriter: w, Status: http.StatusOK}
}

func (s *StatusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.Status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flushes).
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hosts are the host names the service answers for. A page on another
// site can make a browser send requests to a loopback or private address
// under the attacker's own name (DNS rebinding); those requests carry that
// name in Host, so refusing unknown names keeps such a page from driving
// the service with the browser as a proxy.
type Hosts struct{ names map[string]bool }

// LoopbackHosts are always allowed.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// NewHosts allows the loopback names and the given ones (a port, if
// given, is ignored: a name is allowed on any port).
func NewHosts(names ...string) Hosts {
	h := Hosts{names: map[string]bool{}}
	for _, n := range append(append([]string{}, LoopbackHosts...), names...) {
		if n = HostName(n); n != "" {
			h.names[n] = true
		}
	}
	return h
}

// Allows says whether the request names an allowed host.
func (h Hosts) Allows(r *http.Request) bool {
	if h.names == nil {
		h = NewHosts()
	}
	return h.names[HostName(r.Host)]
}

// HostName is a Host header's name, compared case-insensitively: no port,
// no IPv6 brackets, no trailing dot.
func HostName(host string) string {
	if name, _, err := net.SplitHostPort(host); err == nil {
		host = name
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// ValidHost says whether s may be given as an allowed host: a DNS name or
// an IP address, with or without a port.
func ValidHost(s string) bool {
	if _, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	name := HostName(s)
	if name == "" || len(name) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
