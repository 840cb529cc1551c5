package principals

import "strings"

// Admins are the admins named in the configuration (user ids or
// usernames, any case): the first admins, who grant the role to others.
type Admins map[string]bool

// NewAdmins reads the configured names.
func NewAdmins(names []string) Admins {
	a := Admins{}
	for _, n := range names {
		a[strings.ToLower(strings.TrimSpace(n))] = true
	}
	return a
}

// Include says whether p is an admin: by the role, or named in the
// configuration.
func (a Admins) Include(p Principal) bool {
	return p.Admin || a[strings.ToLower(p.UserID)] || a[strings.ToLower(p.Username)]
}
