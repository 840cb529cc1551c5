// Package scopes names what a personal access token may do. A ":write"
// scope implies its ":read"; a sign-in session holds every scope. Services
// of the platform add their own scopes by configuration.
package scopes

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The built-in scopes.
const (
	ProfileRead        = "profile:read"
	ProfileWrite       = "profile:write"
	TokensRead         = "tokens:read"
	TokensWrite        = "tokens:write"
	SessionsRead       = "sessions:read"
	AuditRead          = "audit:read"
	CredentialsRead    = "credentials:read"
	CredentialsWrite   = "credentials:write"
	NotificationsRead  = "notifications:read"
	NotificationsWrite = "notifications:write"
)

// Builtin lists the built-in scopes in a stable order.
func Builtin() []string {
	return []string{ProfileRead, ProfileWrite, TokensRead, TokensWrite, SessionsRead, AuditRead,
		CredentialsRead, CredentialsWrite, NotificationsRead, NotificationsWrite}
}

// Registry is the set of scopes tokens may be granted.
type Registry struct {
	names []string
	extra map[string]string // name -> description, for configured scopes
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,40}(:[a-z][a-z0-9_.-]{0,40})?$`)

// New returns the built-in scopes and the configured extra ones.
func New(extra map[string]string) (*Registry, error) {
	r := &Registry{names: Builtin(), extra: map[string]string{}}
	var more []string
	for name, desc := range extra {
		switch {
		case !namePattern.MatchString(name):
			return nil, fmt.Errorf("scope %q: want a lower-case name like projects:read", name)
		case slices.Contains(r.names, name):
			return nil, fmt.Errorf("scope %q is built in", name)
		case strings.TrimSpace(desc) == "":
			return nil, fmt.Errorf("scope %q needs a description", name)
		}
		r.extra[name] = desc
		more = append(more, name)
	}
	slices.Sort(more)
	r.names = append(r.names, more...)
	return r, nil
}

// ParseFlag reads NAME=DESCRIPTION.
func ParseFlag(s string) (string, string, error) {
	name, desc, ok := strings.Cut(s, "=")
	if !ok || name == "" || desc == "" {
		return "", "", fmt.Errorf("scope %q: want NAME=DESCRIPTION, like projects:read=Read your projects", s)
	}
	return name, desc, nil
}

// Names lists every scope.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Known says whether name is a scope.
func (r *Registry) Known(name string) bool { return slices.Contains(r.names, name) }

// Description is a configured scope's description ("" for built-in ones,
// whose descriptions are in the message catalogs).
func (r *Registry) Description(name string) string { return r.extra[name] }

// Holds says whether a credential with held may do what need allows: need
// itself, or its ":write" when need is a ":read".
func Holds(held []string, need string) bool {
	if slices.Contains(held, need) {
		return true
	}
	if base, ok := strings.CutSuffix(need, ":read"); ok {
		return slices.Contains(held, base+":write")
	}
	return false
}

// Missing lists the scopes of want that held does not cover.
func Missing(held, want []string) []string {
	var out []string
	for _, w := range want {
		if !Holds(held, w) {
			out = append(out, w)
		}
	}
	return out
}
