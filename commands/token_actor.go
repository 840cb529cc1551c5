package commands

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/accountd/accountd/internal/scopes"
	"github.com/accountd/accountd/internal/validate"
)

// Actor is the credential a token command comes with. A sign-in session
// has full control over the account's tokens. A personal access token
// reaches no further than itself: it acts (rotates, changes, enables,
// disables, deletes, reads the activity of) only on tokens whose scopes,
// addresses and life lie within its own, and gives no token, a new one,
// another or itself, more than that.
//
// The zero Actor is a token that holds nothing, so a caller that does not
// say who acts is refused rather than given full control.
type Actor struct {
	// Session: a person's sign-in session, not a token.
	Session bool
	// TokenID is the acting token. Its settings are read again from the
	// account's token stream the decision is made on, so a limit set a
	// moment ago (perhaps through another replica, whose change this
	// replica's credential index may not have seen yet) already counts.
	TokenID    string
	Scopes     []string
	AllowedIPs []string // CIDR prefixes it may be used from; none: any address
	ExpiresAt  time.Time
}

// TokenReach is how far a token gets: what it may do, from where, until
// when.
type TokenReach struct {
	Scopes     []string
	AllowedIPs []string // none: any address
	ExpiresAt  time.Time
}

// Reach is the token's reach.
func (t Token) Reach() TokenReach {
	return TokenReach{Scopes: t.Scopes, AllowedIPs: t.AllowedIPs, ExpiresAt: t.ExpiresAt}
}

// LimitsError: a token would act on, or give, addresses or a life beyond
// its own. Violations name which (allowed_ips, expires_at).
type LimitsError struct{ Violations []validate.Violation }

func (e *LimitsError) Error() string {
	if len(e.Violations) == 0 {
		return "beyond the acting token's limits"
	}
	return "beyond the acting token's limits: " + e.Violations[0].Field
}

// Violation codes of a LimitsError.
const (
	codeAddressesBeyond = "allowed_ips.beyond_token"
	codeExpiryBeyond    = "expires_at.beyond_token"
)

// MayReach is nil when r lies within the actor's own reach (always, for a
// session); else a *ScopeError naming the scopes the actor lacks, or, with
// every scope held, a *LimitsError naming the addresses or the life it
// lacks.
func (a Actor) MayReach(r TokenReach) error {
	if a.Session {
		return nil
	}
	if missing := scopes.Missing(a.Scopes, r.Scopes); len(missing) > 0 {
		return &ScopeError{Missing: missing}
	}
	return invalidLimits(a.limitViolations(r))
}

func (a Actor) limitViolations(r TokenReach) []validate.Violation {
	var vs []validate.Violation
	if !addressesWithin(r.AllowedIPs, a.AllowedIPs) {
		vs = append(vs, validate.Violation{Field: "allowed_ips", Code: codeAddressesBeyond})
	}
	if r.ExpiresAt.IsZero() || r.ExpiresAt.After(a.ExpiresAt) {
		vs = append(vs, validate.Violation{Field: "expires_at", Code: codeExpiryBeyond})
	}
	return vs
}

// mayReachAll is MayReach over several tokens at once: every scope
// missing for any of them, else every limit.
func (a Actor) mayReachAll(ts []Token) error {
	if a.Session {
		return nil
	}
	var missing []string
	var vs []validate.Violation
	for _, t := range ts {
		missing = append(missing, scopes.Missing(a.Scopes, t.Scopes)...)
		for _, v := range a.limitViolations(t.Reach()) {
			if !slices.ContainsFunc(vs, func(w validate.Violation) bool { return w.Field == v.Field }) {
				vs = append(vs, v)
			}
		}
	}
	if len(missing) > 0 {
		return &ScopeError{Missing: slices.Compact(slices.Sorted(slices.Values(missing)))}
	}
	slices.SortFunc(vs, func(x, y validate.Violation) int { return cmp.Compare(x.Field, y.Field) })
	return invalidLimits(vs)
}

func invalidLimits(vs []validate.Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &LimitsError{Violations: vs}
}

// mayGiveAddresses: a token gives (to a new token, another or itself) only
// addresses within its own.
func (a Actor) mayGiveAddresses(ips []string) error {
	if a.Session || addressesWithin(ips, a.AllowedIPs) {
		return nil
	}
	return &LimitsError{Violations: []validate.Violation{{Field: "allowed_ips", Code: codeAddressesBeyond}}}
}

// mayGiveExpiry: a token gives no life past its own.
func (a Actor) mayGiveExpiry(at time.Time) error {
	if a.Session || !at.After(a.ExpiresAt) {
		return nil
	}
	return &LimitsError{Violations: []validate.Violation{{Field: "expires_at", Code: codeExpiryBeyond}}}
}

// in resolves the actor against the account's tokens: a token acts with
// its settings as the stream has them now, and with nothing once it is
// gone, revoked, disabled or expired.
func (a Actor) in(ts Tokens, now time.Time) Actor {
	if a.Session || a.TokenID == "" {
		return a
	}
	t, ok := ts.Get(a.TokenID)
	if !ok || !t.Live(now) || !t.Enabled {
		return Actor{TokenID: a.TokenID}
	}
	return Actor{TokenID: t.ID, Scopes: t.Scopes, AllowedIPs: t.AllowedIPs, ExpiresAt: t.ExpiresAt}
}

// addressesWithin: every prefix of inner lies inside one of outer. No
// outer prefixes is any address, which holds everything; no inner
// prefixes is any address, which only that holds. A prefix that does not
// parse lies nowhere.
func addressesWithin(inner, outer []string) bool {
	if len(outer) == 0 {
		return true
	}
	if len(inner) == 0 {
		return false
	}
	bounds := make([]netip.Prefix, 0, len(outer))
	for _, s := range outer {
		if p, err := netip.ParsePrefix(s); err == nil {
			bounds = append(bounds, p.Masked())
		}
	}
	for _, s := range inner {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return false
		}
		if !slices.ContainsFunc(bounds, func(b netip.Prefix) bool { return prefixInside(p.Masked(), b) }) {
			return false
		}
	}
	return true
}

// prefixInside: every address of p is in outer.
func prefixInside(p, outer netip.Prefix) bool {
	return p.Addr().Is4() == outer.Addr().Is4() && outer.Bits() <= p.Bits() && outer.Contains(p.Addr())
}
