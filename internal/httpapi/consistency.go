package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
)

// ConsistencyHeader carries a consistency token: on a response, the $all
// position of the last event the request wrote; on a read, a position the
// answer must include (any replica waits for its read models to reach it).
const ConsistencyHeader = "X-Consistency-Token"

var (
	errBadConsistencyToken = errors.New("malformed consistency token")
	errConsistencyTimeout  = errors.New("the read models did not reach the consistency token in time")
)

// consistency gives every response that wrote its consistency token, and
// makes a read that sends one wait until the read models include it
// (AwaitPosition): 503 with Retry-After when they do not within the
// budget, never an answer older than the token.
func (a *API) consistency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, written := commands.WithWritten(r.Context())
		if v := r.Header.Get(ConsistencyHeader); v != "" {
			position, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				a.writeError(w, r, errBadConsistencyToken)
				return
			}
			if read := r.Method == http.MethodGet || r.Method == http.MethodHead; read && a.awaitPosition != nil {
				if err := a.awaitPosition(ctx, position, a.routeReadModels(r)); err != nil {
					if r.Context().Err() == nil {
						err = errConsistencyTimeout
					}
					a.writeError(w, r, err)
					return
				}
			}
		}
		next.ServeHTTP(&tokenWriter{ResponseWriter: w, written: written}, r.WithContext(ctx))
	})
}

// tokenWriter adds the consistency token to a response whose request
// wrote, as its headers go out.
type tokenWriter struct {
	http.ResponseWriter
	written *commands.Written
	sent    bool
}

func (t *tokenWriter) WriteHeader(status int) {
	if !t.sent {
		t.sent = true
		if p := t.written.Position(); p > 0 {
			t.Header().Set(ConsistencyHeader, strconv.FormatUint(p, 10))
		}
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *tokenWriter) Write(b []byte) (int, error) {
	if !t.sent {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (t *tokenWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// awaitPositionFunc waits until the read models named (nil: all) include
// a position.
type awaitPositionFunc = func(ctx context.Context, position uint64, readModels []string) error

// The read models routes declare (projector names).
const (
	readUsers     = "users"
	readUsernames = "usernames"
	readSessions  = "sessions"
	readTokens    = "tokens"
	readAudit     = "audit"
)

// reads declares, in the route table, the read models a route reads: a
// read with a consistency token waits only for those (none: for nothing,
// as the credential index answers it). A route that declares nothing
// waits for every read model, the safe default.
func (a *API) reads(route *mux.Route, readModels ...string) {
	a.readModels[route] = append([]string{}, readModels...)
}

// routeReadModels: what the matched route declared it reads (nil: all).
func (a *API) routeReadModels(r *http.Request) []string {
	if route := mux.CurrentRoute(r); route != nil {
		return a.readModels[route]
	}
	return nil
}
