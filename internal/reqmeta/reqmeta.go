// Package reqmeta is what the API and the console read the same way from
// an HTTP request: its ids, the client's address, who asks (for the
// events a command writes), and the status written (for the access log).
package reqmeta

import (
	"net"
	"net/http"
	"regexp"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/principals"
)

// safeID is what a caller's id may be: it goes into logs and events.
var safeID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

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

// ClientIP is the peer's address (no proxy headers are trusted).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
