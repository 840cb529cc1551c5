package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accountd/accountd/commands"
)

// consistencyFor is how long the console's consistency cookie lives: long
// enough for the pages that follow a form, short enough that an old
// position is not carried around (it would only be reached already).
const consistencyFor = 5 * time.Minute

// consistency is the console's read-your-writes across replicas, as the
// API's X-Consistency-Token: a request whose command wrote sets the
// consistency cookie to the newest position it wrote (or the cookie's, if
// newer); a GET that carries the cookie waits until this replica's read
// models include that position (Config.AwaitPosition), and gets the error
// page with 503 and Retry-After when they do not in time, never an older
// page. A malformed cookie is cleared and otherwise ignored. Nothing here
// is kept by the process: the position travels with the browser.
func (c *Console) consistency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, written := commands.WithWritten(r.Context())
		var held uint64
		if ck, err := r.Cookie(c.cookies.consistency); err == nil {
			position, err := strconv.ParseUint(ck.Value, 10, 64)
			if err != nil || position == 0 {
				c.clearCookie(w, c.cookies.consistency)
			} else {
				held = position
			}
		}
		if held > 0 && c.awaitPosition != nil && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/static/") {
			if err := c.awaitPosition(ctx, held, nil); err != nil { // every read model: pages read several
				if r.Context().Err() != nil {
					return // the client left
				}
				w.Header().Set("Retry-After", "1")
				c.renderError(w, r, http.StatusServiceUnavailable, "ui.error.catching_up")
				return
			}
		}
		next.ServeHTTP(&consistencyWriter{ResponseWriter: w, console: c, written: written, held: held}, r.WithContext(ctx))
	})
}

// consistencyWriter sets the consistency cookie on a response whose
// request wrote, as its headers go out.
type consistencyWriter struct {
	http.ResponseWriter
	console *Console
	written *commands.Written
	held    uint64
	sent    bool
}

func (cw *consistencyWriter) WriteHeader(status int) {
	if !cw.sent {
		cw.sent = true
		if p := cw.written.Position(); p > 0 {
			cw.console.setCookie(cw.ResponseWriter, cw.console.cookies.consistency, strconv.FormatUint(max(p, cw.held), 10), consistencyFor)
		}
	}
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *consistencyWriter) Write(b []byte) (int, error) {
	if !cw.sent {
		cw.WriteHeader(http.StatusOK)
	}
	return cw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (cw *consistencyWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
