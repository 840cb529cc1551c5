package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// tokenWith creates a token with the given settings (by owner) and
// returns a client that uses it, and the creation's answer.
func tokenWith(t testing.TB, owner *client, expiresAt string, allowedIPs []string, scopes ...string) (*client, map[string]any) {
	t.Helper()
	body := map[string]any{"title": "t " + strings.Join(scopes, ","), "scopes": scopes, "expires_at": expiresAt}
	if allowedIPs != nil {
		body["allowed_ips"] = allowedIPs
	}
	created := owner.expect(http.StatusCreated, owner.do("POST", "/v1/me/tokens", body)).json(t)
	return &client{t: t, base: owner.base, token: created["token"].(string), from: owner.from}, created
}

// tokenState is what a refused request must leave as it was.
func tokenState(t testing.TB, me *client, id string) string {
	t.Helper()
	got := me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+id, nil)).json(t)
	var ips []string
	for _, ip := range got["allowed_ips"].([]any) {
		ips = append(ips, ip.(string))
	}
	return strings.Join([]string{got["token_prefix"].(string), got["expires_at"].(string), got["title"].(string),
		strings.Join(ips, ","), map[bool]string{true: "enabled", false: "disabled"}[got["enabled"].(bool)]}, " ")
}

// refusedFor checks a 403 problem: its kind, and the scopes it names or
// its field errors.
func refusedFor(t testing.TB, r response, kind string, names ...string) {
	t.Helper()
	gotKind, codes := r.problem(t)
	if r.status != http.StatusForbidden || gotKind != "/problems/"+kind {
		t.Fatalf("%d %s, want 403 %s", r.status, r.body, kind)
	}
	switch kind {
	case "insufficient_scope":
		for _, s := range names {
			if !strings.Contains(string(r.body), s) || !strings.Contains(r.header.Get("WWW-Authenticate"), s) {
				t.Fatalf("%s does not name %s (%s)", r.body, s, r.header.Get("WWW-Authenticate"))
			}
		}
	default:
		if !slices.Equal(codes, names) {
			t.Fatalf("field errors %v, want %v", codes, names)
		}
	}
}

// The attacks of the issue: a token with only tokens:write took over
// broader tokens (rotated one and got its secret, disabled or deleted
// them). Now it is refused, naming the scopes it lacks, and nothing
// changes; a session still does all of it.
func TestANarrowTokenCannotTakeOverABroaderOne(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "ritchie", nil)
	narrow, narrowTok := tokenWith(t, me, inDays(30), nil, "tokens:write")
	broad, broadTok := tokenWith(t, me, inDays(30), nil, "profile:write", "credentials:write", "tokens:write")
	id := broadTok["id"].(string)
	before := tokenState(t, me, id)
	missing := []string{"credentials:write", "profile:write"}

	refusedFor(t, narrow.do("POST", "/v1/me/tokens/"+id+"/rotate", nil), "insufficient_scope", missing...)
	refusedFor(t, narrow.do("POST", "/v1/me/tokens/"+id+"/rotate", map[string]any{"expires_at": inDays(1)}), "insufficient_scope", missing...)
	refusedFor(t, narrow.do("PATCH", "/v1/me/tokens/"+id, map[string]any{"enabled": false}), "insufficient_scope", missing...)
	refusedFor(t, narrow.do("PATCH", "/v1/me/tokens/"+id, map[string]any{"title": "mine now"}), "insufficient_scope", missing...)
	refusedFor(t, narrow.do("DELETE", "/v1/me/tokens/"+id, nil), "insufficient_scope", missing...)
	refusedFor(t, narrow.do("GET", "/v1/me/tokens/"+id+"/activity", nil), "insufficient_scope", missing...)
	// All at once: nothing is deleted, and every missing scope is named.
	refusedFor(t, narrow.do("DELETE", "/v1/me/tokens", nil), "insufficient_scope", missing...)
	if got := tokenState(t, me, id); got != before {
		t.Fatalf("the broad token changed: %s, was %s", got, before)
	}
	broad.expect(http.StatusOK, broad.do("GET", "/v1/me", nil))
	// Listing stays a read.
	if list := narrow.expect(http.StatusOK, narrow.do("GET", "/v1/me/tokens", nil)).json(t)["tokens"].([]any); len(list) != 2 {
		t.Fatalf("listed %v", list)
	}
	// On itself it keeps full control.
	narrow.expect(http.StatusOK, narrow.do("GET", "/v1/me/tokens/"+narrowTok["id"].(string)+"/activity", nil))
	narrow.expect(http.StatusOK, narrow.do("PATCH", "/v1/me/tokens/"+narrowTok["id"].(string), map[string]any{"title": "renamed"}))

	// A session does all of it.
	rotated := me.expect(http.StatusOK, me.do("POST", "/v1/me/tokens/"+id+"/rotate", nil)).json(t)
	fresh := &client{t: t, base: srv.URL, token: rotated["token"].(string)}
	fresh.expect(http.StatusOK, fresh.do("GET", "/v1/me", nil))
	me.expect(http.StatusOK, me.do("PATCH", "/v1/me/tokens/"+id, map[string]any{"enabled": false}))
	me.expect(http.StatusOK, me.do("GET", "/v1/me/tokens/"+id+"/activity", nil))
	me.expect(http.StatusNoContent, me.do("DELETE", "/v1/me/tokens/"+id, nil))
	// Only tokens within its reach left: the narrow token deletes them all.
	narrow.expect(http.StatusNoContent, narrow.do("DELETE", "/v1/me/tokens", nil))
	narrow.expect(http.StatusUnauthorized, narrow.do("GET", "/v1/me/tokens", nil))
}

// A token limited by allowed_ips could lift its own limits, and a
// 10-day token could rotate itself to 360 days. Now a token cannot widen
// its own addresses or life, nor give another (or a new) token more.
func TestATokenCannotLiftItsOwnLimits(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	me := signUp(t, srv, "thompson", nil)
	limited, limitedTok := tokenWith(t, me, inDays(30), []string{"127.0.0.1"}, "tokens:write", "profile:read")
	self := "/v1/me/tokens/" + limitedTok["id"].(string)
	before := tokenState(t, me, limitedTok["id"].(string))
	beyondAddresses := []string{"allowed_ips:allowed_ips.beyond_token"}
	beyondExpiry := []string{"expires_at:expires_at.beyond_token"}

	// Its own addresses: never wider, never "any".
	for _, ips := range []any{[]string{}, nil, []string{"127.0.0.0/8"}, []string{"127.0.0.1", "192.0.2.1"}} {
		refusedFor(t, limited.do("PATCH", self, map[string]any{"allowed_ips": ips}), "token_limits", beyondAddresses...)
	}
	if got := tokenState(t, me, limitedTok["id"].(string)); got != before {
		t.Fatalf("limits changed: %s, was %s", got, before)
	}
	elsewhere := &client{t: t, base: srv.URL, token: limited.token, from: "127.0.0.2"}
	if r := elsewhere.do("GET", "/v1/me", nil); r.status != http.StatusForbidden {
		t.Fatalf("from another address: %d", r.status)
	}

	// New tokens: inside its addresses, expiring no later than itself.
	child := func(ips any, expires string) response {
		body := map[string]any{"title": "child", "scopes": []string{"profile:read"}, "expires_at": expires}
		if ips != nil {
			body["allowed_ips"] = ips
		}
		return limited.do("POST", "/v1/me/tokens", body)
	}
	refusedFor(t, child(nil, inDays(5)), "token_limits", beyondAddresses...)
	refusedFor(t, child([]string{}, inDays(5)), "token_limits", beyondAddresses...)
	refusedFor(t, child([]string{"10.0.0.0/8"}, inDays(5)), "token_limits", beyondAddresses...)
	refusedFor(t, child([]string{"127.0.0.1"}, inDays(60)), "token_limits", beyondExpiry...)
	refusedFor(t, child(nil, inDays(60)), "token_limits", append(slices.Clone(beyondAddresses), beyondExpiry...)...)
	limited.expect(http.StatusCreated, child([]string{"127.0.0.1/32"}, inDays(5)))

	// Other tokens: not given addresses outside its own, not rotated by id
	// when they outlive it.
	_, inner := tokenWith(t, me, inDays(5), []string{"127.0.0.1"}, "profile:read")
	innerPath := "/v1/me/tokens/" + inner["id"].(string)
	refusedFor(t, limited.do("PATCH", innerPath, map[string]any{"allowed_ips": []string{"192.0.2.0/24"}}), "token_limits", beyondAddresses...)
	refusedFor(t, limited.do("POST", innerPath+"/rotate", map[string]any{"expires_at": inDays(60)}), "token_limits", beyondExpiry...)
	_, later := tokenWith(t, me, inDays(60), []string{"127.0.0.1"}, "profile:read")
	laterBefore := tokenState(t, me, later["id"].(string))
	refusedFor(t, limited.do("POST", "/v1/me/tokens/"+later["id"].(string)+"/rotate", nil), "token_limits", beyondExpiry...)
	_, anywhere := tokenWith(t, me, inDays(5), nil, "profile:read")
	refusedFor(t, limited.do("DELETE", "/v1/me/tokens/"+anywhere["id"].(string), nil), "token_limits", beyondAddresses...)
	if got := tokenState(t, me, later["id"].(string)); got != laterBefore {
		t.Fatalf("the later token changed: %s, was %s", got, laterBefore)
	}
	limited.expect(http.StatusOK, limited.do("POST", innerPath+"/rotate", nil))

	// Its own life: self-rotation keeps the remaining lifetime; a later
	// expiry is refused, an earlier one taken.
	ten, tenTok := tokenWith(t, me, inDays(10), nil, "tokens:write")
	refusedFor(t, ten.do("POST", "/v1/me/tokens/self/rotate", map[string]any{"expires_at": inDays(360)}), "token_limits", beyondExpiry...)
	time.Sleep(1100 * time.Millisecond) // so that "the lifetime again, from now" would show
	renewed := ten.expect(http.StatusOK, ten.do("POST", "/v1/me/tokens/self/rotate", nil)).json(t)
	if renewed["expires_at"] != tenTok["expires_at"] || renewed["token"] == ten.token {
		t.Fatalf("self-rotated to %v, was %v", renewed["expires_at"], tenTok["expires_at"])
	}
	ten = &client{t: t, base: srv.URL, token: renewed["token"].(string)}
	earlier := inDays(3)
	if got := ten.expect(http.StatusOK, ten.do("POST", "/v1/me/tokens/self/rotate", map[string]any{"expires_at": earlier})).json(t); got["expires_at"] != earlier {
		t.Fatalf("rotated to %v, want %v", got["expires_at"], earlier)
	}

	// A person's session grants lifetime and lifts limits.
	me.expect(http.StatusOK, me.do("POST", "/v1/me/tokens/"+tenTok["id"].(string)+"/rotate", map[string]any{"expires_at": inDays(360)}))
	me.expect(http.StatusOK, me.do("PATCH", self, map[string]any{"allowed_ips": []string{}}))
	elsewhere.expect(http.StatusOK, elsewhere.do("GET", "/v1/me", nil))
}

// introspect asks as the projects service, with the form fields given.
func introspectForm(c *client, fields url.Values) response {
	return c.do("POST", "/v1/tokens/introspect", fields.Encode(),
		"Content-Type", "application/x-www-form-urlencoded",
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("projects:projects-service-secret")))
}

// A token limited to an address was {"active": true} from anywhere. Now
// the answer carries allowed_ips, and with client_ip it says whether the
// token may be used from there.
func TestIntrospectionTellsAddressLimits(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{IntrospectionClients: map[string]string{"projects": "projects-service-secret"}}, "")
	me := signUp(t, srv, "kernighan", nil)
	limited, _ := tokenWith(t, me, inDays(5), []string{"10.9.9.9/32"}, "profile:read")
	open, _ := tokenWith(t, me, inDays(5), nil, "profile:read")
	service := &client{t: t, base: srv.URL}
	tests := []struct {
		name       string
		token      string
		clientIP   []string // nil: not sent
		active     bool
		allowedIPs []string
	}{
		{"limited, no client_ip", limited.token, nil, true, []string{"10.9.9.9/32"}},
		{"limited, from its address", limited.token, []string{"10.9.9.9"}, true, []string{"10.9.9.9/32"}},
		{"limited, from its address mapped to IPv6", limited.token, []string{"::ffff:10.9.9.9"}, true, []string{"10.9.9.9/32"}},
		{"limited, from elsewhere", limited.token, []string{"10.9.9.8"}, false, nil},
		{"limited, from IPv6", limited.token, []string{"2001:db8::1"}, false, nil},
		{"open, no client_ip", open.token, nil, true, []string{}},
		{"open, from anywhere", open.token, []string{"203.0.113.7"}, true, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			service.t = t
			fields := url.Values{"token": {tt.token}}
			if tt.clientIP != nil {
				fields["client_ip"] = tt.clientIP
			}
			got := service.expect(http.StatusOK, introspectForm(service, fields)).json(t)
			if !tt.active {
				if len(got) != 1 || got["active"] != false {
					t.Fatalf("%v, want only active false", got)
				}
				return
			}
			var ips []string
			list, ok := got["allowed_ips"].([]any)
			for _, ip := range list {
				ips = append(ips, ip.(string))
			}
			if got["active"] != true || !ok || !slices.Equal(ips, tt.allowedIPs) {
				t.Fatalf("%v, want active with allowed_ips %v", got, tt.allowedIPs)
			}
		})
	}
	service.t = t
	// A client_ip that is no address: 400, with a field error.
	for _, bad := range [][]string{{"nope"}, {""}, {"10.9.9.0/24"}, {"10.9.9.9", "10.9.9.8"}} {
		r := introspectForm(service, url.Values{"token": {limited.token}, "client_ip": bad})
		if kind, codes := r.problem(t); r.status != http.StatusBadRequest || kind != "/problems/malformed_request" || !slices.Equal(codes, []string{"client_ip:client_ip.invalid"}) {
			t.Fatalf("client_ip %q: %d %s", bad, r.status, r.body)
		}
	}
	// An inactive token stays {"active": false} whatever the address.
	if got := introspectForm(service, url.Values{"token": {"acp_" + strings.Repeat("A", 38)}, "client_ip": {"10.9.9.9"}}).json(t); len(got) != 1 || got["active"] != false {
		t.Fatalf("unknown token %v", got)
	}
}
