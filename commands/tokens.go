package commands

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/scopes"
	"github.com/accountd/accountd/internal/tokens"
	"github.com/accountd/accountd/internal/validate"
)

// Token errors.
var (
	ErrTokenNotFound = errors.New("token not found")
)

// ScopeError: the credential lacks scopes the request needs.
type ScopeError struct{ Missing []string }

func (e *ScopeError) Error() string { return "missing scopes: " + strings.Join(e.Missing, ", ") }

// Token is one personal access token as commands know it.
type Token struct {
	ID         string
	Title      string
	Scopes     []string
	ExpiresAt  time.Time
	Enabled    bool
	AllowedIPs []string
	Digest     string
	Prefix     string
	CreatedAt  time.Time
	IssuedAt   time.Time // of the current secret: creation or the last rotation
	Revoked    bool
	// RotatedAway are the digests of the secrets this token had before.
	RotatedAway []string
	LastUsedAt  time.Time
	LastUsedIP  string
	// Addresses maps each address the token was used from to the
	// revision of its first recorded use (at most maxAddresses of them).
	Addresses map[string]uint64
}

// maxAddresses bounds the addresses remembered per token.
const maxAddresses = 64

// Live: usable until it expires.
func (t Token) Live(now time.Time) bool { return !t.Revoked && now.Before(t.ExpiresAt) }

// Tokens is the state of one tokens-<user id> stream: all of a user's
// tokens, so that the per-user limit is decided on one stream.
type Tokens struct {
	UserID string
	byID   map[string]Token
}

// Get returns one token.
func (ts Tokens) Get(id string) (Token, bool) {
	t, ok := ts.byID[id]
	return t, ok
}

// foldTokens applies one past event. Pure: the map is copied before it
// changes, so states handed out (and cached) never change under a reader.
func foldTokens(ts Tokens, e events.Recorded) Tokens {
	change := func(id string, f func(*Token)) {
		t, ok := ts.byID[id]
		if !ok {
			return
		}
		f(&t)
		ts.byID = maps.Clone(ts.byID)
		ts.byID[id] = t
	}
	switch p := e.Payload.(type) {
	case events.TokenCreatedV1:
		ts.byID = maps.Clone(ts.byID)
		if ts.byID == nil {
			ts.byID = map[string]Token{}
		}
		ts.UserID = p.UserID
		ts.byID[p.TokenID] = Token{ID: p.TokenID, Title: p.Title, Scopes: p.Scopes, ExpiresAt: p.ExpiresAt, Enabled: p.Enabled,
			AllowedIPs: p.AllowedIPs, Digest: p.TokenDigest, Prefix: p.TokenPrefix, CreatedAt: p.IssuedAt, IssuedAt: p.IssuedAt}
	case events.TokenUpdatedV1:
		change(p.TokenID, func(t *Token) {
			if p.Title != nil {
				t.Title = *p.Title
			}
			if p.Enabled != nil {
				t.Enabled = *p.Enabled
			}
			if p.AllowedIPs != nil {
				t.AllowedIPs = *p.AllowedIPs
			}
		})
	case events.TokenRotatedV1:
		change(p.TokenID, func(t *Token) {
			t.RotatedAway = append(slices.Clone(t.RotatedAway), p.OldDigest)
			t.Digest, t.Prefix, t.ExpiresAt, t.IssuedAt = p.TokenDigest, p.TokenPrefix, p.ExpiresAt, p.IssuedAt
		})
	case events.TokenRevokedV1:
		change(p.TokenID, func(t *Token) { t.Revoked = true })
	case events.TokenUsedV1:
		change(p.TokenID, func(t *Token) {
			t.LastUsedAt, t.LastUsedIP = p.At, p.ClientIP
			if _, seen := t.Addresses[p.ClientIP]; !seen && len(t.Addresses) < maxAddresses {
				t.Addresses = maps.Clone(t.Addresses)
				if t.Addresses == nil {
					t.Addresses = map[string]uint64{}
				}
				t.Addresses[p.ClientIP] = e.Revision
			}
		})
	case events.TokenDeletedV1:
		if _, ok := ts.byID[p.TokenID]; ok {
			ts.byID = maps.Clone(ts.byID)
			delete(ts.byID, p.TokenID)
		}
	}
	return ts
}

// TokenSpec is what a new token is made with.
type TokenSpec struct {
	Title      string
	Scopes     []string
	ExpiresAt  time.Time
	Enabled    bool
	AllowedIPs []string
}

// tokenPolicy holds the rules tokens are checked against.
type tokenPolicy struct {
	scopes      *scopes.Registry
	maxLifetime time.Duration
	maxLive     int
}

// validTitle checks a token's title: one line of 1 to 100 characters.
func validTitle(field, title string) []validate.Violation {
	if strings.TrimSpace(title) == "" {
		return []validate.Violation{{Field: field, Code: "request.required"}}
	}
	return validate.SingleLine(field, title, 100)
}

// validIPs checks and normalises allowed addresses: CIDR prefixes, a bare
// address meaning a single host.
func validIPs(field string, ips []string) ([]string, []validate.Violation) {
	out := []string{}
	for _, s := range ips {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked().String())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String())
			continue
		}
		return nil, []validate.Violation{{Field: field, Code: "allowed_ips.invalid"}}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// validExpiry: in the future and at most the maximum lifetime ahead.
func (p tokenPolicy) validExpiry(field string, at, now time.Time) []validate.Violation {
	switch {
	case at.IsZero():
		return []validate.Violation{{Field: field, Code: "request.required"}}
	case !at.After(now):
		return []validate.Violation{{Field: field, Code: "expires_at.past"}}
	case at.After(now.Add(p.maxLifetime)):
		return []validate.Violation{{Field: field, Code: "expires_at.too_far", Params: map[string]int{"max": int(p.maxLifetime.Hours() / 24)}}}
	}
	return nil
}

// validSpec checks a new token's settings.
func (p tokenPolicy) validSpec(spec TokenSpec, now time.Time) (TokenSpec, error) {
	vs := validTitle("title", spec.Title)
	if len(spec.Scopes) == 0 {
		vs = append(vs, validate.Violation{Field: "scopes", Code: "scopes.required"})
	}
	for _, s := range spec.Scopes {
		if !p.scopes.Known(s) {
			vs = append(vs, validate.Violation{Field: "scopes", Code: "scopes.unknown"})
			break
		}
	}
	vs = append(vs, p.validExpiry("expires_at", spec.ExpiresAt, now)...)
	ips, ivs := validIPs("allowed_ips", spec.AllowedIPs)
	vs = append(vs, ivs...)
	if err := invalid(vs); err != nil {
		return spec, err
	}
	spec.Scopes = slices.Compact(slices.Sorted(slices.Values(spec.Scopes)))
	spec.AllowedIPs = ips
	spec.ExpiresAt = spec.ExpiresAt.UTC().Truncate(time.Second)
	return spec, nil
}

// create adds a token, within the per-user limit of live tokens and
// within the reach of the credential that creates it.
func (ts Tokens) create(actor Actor, userID, id string, spec TokenSpec, pat tokens.PAT, now time.Time, maxLive int) ([]events.Payload, error) {
	if _, exists := ts.byID[id]; exists {
		return nil, errors.New("token id collision")
	}
	if err := actor.in(ts, now).MayReach(TokenReach{Scopes: spec.Scopes, AllowedIPs: spec.AllowedIPs, ExpiresAt: spec.ExpiresAt}); err != nil {
		return nil, err
	}
	live := 0
	for _, t := range ts.byID {
		if t.Live(now) {
			live++
		}
	}
	if live >= maxLive {
		return nil, invalid([]validate.Violation{{Field: "token", Code: "tokens.too_many", Params: map[string]int{"max": maxLive}}})
	}
	return []events.Payload{events.TokenCreatedV1{
		TokenID: id, UserID: userID, Title: spec.Title, Scopes: spec.Scopes, ExpiresAt: spec.ExpiresAt, Enabled: spec.Enabled,
		AllowedIPs: spec.AllowedIPs, TokenDigest: pat.Digest, TokenPrefix: pat.Prefix, IssuedAt: now.UTC().Truncate(time.Second),
	}}, nil
}

// TokenChange names the settings to change; nil leaves one as it is.
type TokenChange struct {
	Title      *string
	Enabled    *bool
	AllowedIPs *[]string
}

// update changes a token the actor reaches; a token narrows addresses,
// its own or another's, but never gives one it may not use itself.
func (ts Tokens) update(actor Actor, id string, c TokenChange, now time.Time) ([]events.Payload, error) {
	t, ok := ts.byID[id]
	if !ok {
		return nil, ErrTokenNotFound
	}
	actor = actor.in(ts, now)
	if err := actor.MayReach(t.Reach()); err != nil {
		return nil, err
	}
	if c.AllowedIPs != nil {
		if err := actor.mayGiveAddresses(*c.AllowedIPs); err != nil {
			return nil, err
		}
	}
	out := events.TokenUpdatedV1{TokenID: id, UserID: ts.UserID}
	changed := false
	if c.Title != nil && *c.Title != t.Title {
		out.Title, changed = c.Title, true
	}
	if c.Enabled != nil && *c.Enabled != t.Enabled {
		out.Enabled, changed = c.Enabled, true
	}
	if c.AllowedIPs != nil && !slices.Equal(*c.AllowedIPs, t.AllowedIPs) {
		out.AllowedIPs, changed = c.AllowedIPs, true
	}
	if !changed {
		return nil, nil
	}
	return []events.Payload{out}, nil
}

// rotate gives a token the actor reaches a new secret. Rotated by a
// session, a token gets the lifetime it had, counted from now and capped
// at the maximum, or the expiry asked for. Rotated by a token, it keeps
// its expiry unless an earlier one is asked for (or, for another token,
// one no later than the acting token's own): a token renews secrets but
// never extends a life beyond its own.
func (ts Tokens) rotate(actor Actor, id string, pat tokens.PAT, asked *time.Time, now time.Time, maxLifetime time.Duration) ([]events.Payload, error) {
	t, ok := ts.byID[id]
	if !ok || t.Revoked {
		return nil, ErrTokenNotFound
	}
	actor = actor.in(ts, now)
	if err := actor.MayReach(t.Reach()); err != nil {
		return nil, err
	}
	var expires time.Time
	switch {
	case asked != nil:
		if err := actor.mayGiveExpiry(*asked); err != nil {
			return nil, err
		}
		expires = *asked
	case actor.Session:
		expires = now.Add(min(t.ExpiresAt.Sub(t.IssuedAt), maxLifetime))
	case !now.Before(t.ExpiresAt):
		// Kept, the expiry would be over before the secret is used.
		return nil, invalid([]validate.Violation{{Field: "expires_at", Code: "request.required"}})
	default:
		expires = t.ExpiresAt
	}
	expires = expires.UTC().Truncate(time.Second)
	return []events.Payload{events.TokenRotatedV1{TokenID: id, UserID: ts.UserID, OldDigest: t.Digest, TokenDigest: pat.Digest, TokenPrefix: pat.Prefix,
		ExpiresAt: expires, IssuedAt: now.UTC().Truncate(time.Second)}}, nil
}

func (ts Tokens) delete(actor Actor, id string, now time.Time) ([]events.Payload, error) {
	t, ok := ts.byID[id]
	if !ok {
		return nil, ErrTokenNotFound
	}
	if err := actor.in(ts, now).MayReach(t.Reach()); err != nil {
		return nil, err
	}
	return []events.Payload{events.TokenDeletedV1{TokenID: id, UserID: ts.UserID}}, nil
}

// deleteAll deletes every token, or none: a token that does not reach
// them all is refused, naming what it lacks for the rest, so that a
// success always means that no token is left.
func (ts Tokens) deleteAll(actor Actor, now time.Time) ([]events.Payload, error) {
	ids := slices.Sorted(maps.Keys(ts.byID))
	all := make([]Token, len(ids))
	for i, id := range ids {
		all[i] = ts.byID[id]
	}
	if err := actor.in(ts, now).mayReachAll(all); err != nil {
		return nil, err
	}
	out := make([]events.Payload, len(ids))
	for i, id := range ids {
		out[i] = events.TokenDeletedV1{TokenID: id, UserID: ts.UserID}
	}
	return out, nil
}

// revokeReported revokes the token whose current secret has digest.
func (ts Tokens) revokeReported(digest string, now time.Time) ([]events.Payload, error) {
	for _, t := range ts.byID {
		if t.Digest == digest && t.Live(now) {
			return []events.Payload{events.TokenRevokedV1{TokenID: t.ID, UserID: ts.UserID, Reason: events.RevokedReported}}, nil
		}
	}
	return nil, nil
}

// reused records that a rotated-away secret came back, and revokes the
// token it was rotated into: one of the two has leaked.
func (ts Tokens) reused(oldDigest, clientIP string) ([]events.Payload, error) {
	for _, t := range ts.byID {
		if slices.Contains(t.RotatedAway, oldDigest) {
			if t.Revoked {
				return nil, nil // refused anyway; recorded the first time
			}
			return []events.Payload{
				events.TokenReuseDetectedV1{TokenID: t.ID, UserID: ts.UserID, OldDigest: oldDigest, ClientIP: clientIP},
				events.TokenRevokedV1{TokenID: t.ID, UserID: ts.UserID, Reason: events.RevokedReuseDetected},
			}, nil
		}
	}
	return nil, nil
}
