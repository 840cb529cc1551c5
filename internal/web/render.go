package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/internal/outcome"
	"github.com/accountd/accountd/internal/validate"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/*
var staticFS embed.FS

// staticFiles serves the stylesheet and script under names with their
// content's hash, so they can be cached for good.
type staticFiles struct {
	byName map[string][]byte // hashed name -> content
	url    map[string]string // plain name -> /static/<hashed name>
	types  map[string]string
}

func loadStatic() (*staticFiles, error) {
	s := &staticFiles{byName: map[string][]byte{}, url: map[string]string{}, types: map[string]string{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		raw, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		s.byName[hashed], s.url[e.Name()] = raw, "/static/"+hashed
		s.types[hashed] = map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}[ext]
	}
	return s, nil
}

func (c *Console) getStatic(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	raw, ok := c.static.byName[name]
	if !ok {
		c.renderError(w, r, http.StatusNotFound, "ui.error.not_found")
		return
	}
	w.Header().Set("Content-Type", c.static.types[name])
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(raw)
}

// pages are the parsed templates, one set per page (the layout and the
// page's own blocks).
type pages struct {
	byName map[string]*template.Template
}

func loadPages(c *Console) (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
		// limits are the validation rules' numbers, for the hints.
		"limits": func() fieldLimits {
			return fieldLimits{UsernameMin: validate.UsernameMinLength, UsernameMax: validate.UsernameMaxLength,
				PasswordMin: validate.PasswordMinLength, PasswordMax: validate.PasswordMaxLength}
		},
		"join":  strings.Join,
		"query": url.QueryEscape,
		"has": func(list []string, s string) bool {
			for _, v := range list {
				if v == s {
					return true
				}
			}
			return false
		},
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", base, err)
		}
		p.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// zone is the named time zone, UTC when unnamed or unknown.
func (c *Console) zone(name string) *time.Location { return c.zones.Location(name) }

type fieldLimits struct{ UsernameMin, UsernameMax, PasswordMin, PasswordMax int }

// view is what every page template gets.
type view struct {
	c       *Console
	Lang    string
	Nonce   string
	Title   string // catalog key of the page's <h1> and <title>
	Nav     string // the navigation entry that is current
	User    *viewUser
	IsAdmin bool
	CSS, JS string
	Status  string // a status message, announced
	Errors  []fieldMessage
	Form    map[string]string
	Data    any
	zone    *time.Location
}

type viewUser struct{ ID, Username string }

type fieldMessage struct {
	Field, ID, Message string
}

// T translates a catalog key.
func (v *view) T(key string) string { return v.c.catalogs.Message(v.Lang, key, nil) }

// Tf translates a key, filling {name} with the pairs given.
func (v *view) Tf(key string, pairs ...any) string {
	s := v.T(key)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}

// Time renders a time in the user's zone, machine-readable too.
func (v *view) Time(t time.Time) template.HTML {
	if t.IsZero() {
		return template.HTML(template.HTMLEscapeString(v.T("ui.never")))
	}
	lt := t.In(v.zone)
	// The date and the clock each stay whole (a narrow column breaks the
	// line between them, never at a date's hyphens).
	return template.HTML(fmt.Sprintf(`<time datetime="%s"><span class="nobr">%s</span> <span class="nobr">%s</span></time>`, lt.Format(time.RFC3339),
		lt.Format("2006-01-02"), template.HTMLEscapeString(lt.Format("15:04 MST"))))
}

// Date renders a date for an input of type date.
func (v *view) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.zone).Format("2006-01-02")
}

// Err is the message of a field's error ("" for none).
func (v *view) Err(field string) string {
	for _, e := range v.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// Val is a form field's value as submitted (or prefilled).
func (v *view) Val(field string) string { return v.Form[field] }

func (c *Console) newView(r *http.Request, title, nav string) *view {
	req := requestOf(r.Context())
	v := &view{c: c, Lang: req.lang, Nonce: req.nonce, Title: title, Nav: nav, CSS: c.static.url["app.css"], JS: c.static.url["app.js"],
		Form: map[string]string{}, zone: time.UTC}
	if req.signedIn {
		v.User = &viewUser{ID: req.principal.UserID, Username: req.principal.Username}
		v.IsAdmin = c.isAdmin(req.principal)
		v.zone = c.zone(req.principal.Timezone)
	}
	return v
}

// render writes a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.log.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		c.log.Error("page not rendered", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorPage struct{ Key, RequestID string }

// renderError writes the error page.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := c.newView(r, "ui.error.title", "")
	v.Data = errorPage{Key: key}
	if status >= 500 {
		v.Data = errorPage{Key: key, RequestID: requestOf(r.Context()).id} // to quote to support
	}
	c.render(w, r, status, "error", v)
}

// formErrors turns a use case's error into messages for the form: one
// per field to correct (the error summary links each to its field), or one
// for the whole form (too many attempts). False when the user cannot
// correct it on the form.
func (c *Console) formErrors(v *view, err error) bool {
	o, ok := outcome.Of(err)
	switch {
	case !ok:
		return false
	case len(o.Violations) > 0:
		for _, vi := range o.Violations {
			v.Errors = append(v.Errors, c.fieldMessage(v.Lang, vi))
		}
	case o.Kind == "rate_limited":
		v.Errors = append(v.Errors, fieldMessage{Message: c.catalogs.Message(v.Lang, "problem.rate_limited.title", nil)})
	default:
		return false
	}
	return true
}

// setFieldMessage gives a field this message instead of the use case's.
func (v *view) setFieldMessage(field, message string) {
	for i := range v.Errors {
		if v.Errors[i].Field == field {
			v.Errors[i].Message = message
			return
		}
	}
	v.Errors = append(v.Errors, fieldMessage{Field: field, ID: "f-" + field, Message: message})
}

// formFailed shows the form again with the error's messages and status
// when the user can correct it there; false when not (then fail).
func (c *Console) formFailed(w http.ResponseWriter, r *http.Request, err error, page string, v *view) bool {
	if !c.formErrors(v, err) {
		return false
	}
	c.formStatus(w, r, err, page, v)
	return true
}

// formStatus renders the form whose messages formErrors gave, with the
// error's status (422, 409 for a taken name, 429 and Retry-After for too
// many attempts).
func (c *Console) formStatus(w http.ResponseWriter, r *http.Request, err error, page string, v *view) {
	o, _ := outcome.Of(err)
	if o.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(o.RetryAfter.Seconds()))))
	}
	c.render(w, r, o.Status, page, v)
}

func (c *Console) fieldMessage(lang string, vi validate.Violation) fieldMessage {
	field := vi.Field
	if i := strings.IndexAny(field, ".["); i > 0 {
		field = field[:i]
	}
	if field == "expires_at" { // the console's date field
		field = "expires"
	}
	return fieldMessage{Field: field, ID: "f-" + field, Message: c.catalogs.Message(lang, vi.Code, vi.Params)}
}

// seeOther ends a successful POST with a redirect, and a status message
// for the page it lands on.
func (c *Console) seeOther(w http.ResponseWriter, r *http.Request, to, messageKey string) {
	if messageKey != "" {
		c.leaveFlash(w, r, flash{message: messageKey})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// seeOtherSignedOut is seeOther for a page the caller reaches signed out
// (after signing out or deleting the account): the message is bound to no
// session.
func (c *Console) seeOtherSignedOut(w http.ResponseWriter, r *http.Request, to, messageKey string) {
	key := randomID()
	c.keepFlash(r.Context(), key, flash{message: messageKey})
	c.setCookie(w, c.cookies.flash, key, flashFor)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// leaveFlash keeps f for the caller's next page: one per session, the
// newest.
func (c *Console) leaveFlash(w http.ResponseWriter, r *http.Request, f flash) {
	p := caller(r)
	f.userID = p.UserID
	key := sessionFlashKey(p.Credential.ID)
	c.keepFlash(r.Context(), key, f)
	c.setCookie(w, c.cookies.flash, key, flashFor)
}

func sessionFlashKey(sessionID string) string { return "session:" + sessionID }

// takeFlash reads the flash a redirect left for this page: a signed-in
// caller only their session's, a signed-out one only one bound to none.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) (flash, bool) {
	ck, err := r.Cookie(c.cookies.flash)
	if err != nil || ck.Value == "" {
		return flash{}, false
	}
	c.clearCookie(w, c.cookies.flash)
	p := caller(r)
	if requestOf(r.Context()).signedIn {
		if ck.Value != sessionFlashKey(p.Credential.ID) {
			return flash{}, false
		}
	} else if strings.HasPrefix(ck.Value, sessionFlashKey("")) {
		return flash{}, false // nobody signed out may take a session's flash
	}
	f, ok := c.takeFlashAt(r.Context(), ck.Value)
	if !ok || f.userID != p.UserID {
		return flash{}, false
	}
	return f, true
}

// page renders a page with the flash's status message, if any.
func (c *Console) page(w http.ResponseWriter, r *http.Request, name string, v *view) {
	if f, ok := c.takeFlash(w, r); ok && f.message != "" {
		v.Status = v.T(f.message)
	}
	c.render(w, r, http.StatusOK, name, v)
}
