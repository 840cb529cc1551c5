package reqmeta

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestHosts(t *testing.T) {
	hosts := NewHosts("accounts.example.com", "10.0.0.5:8080")
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"localhost:8080", true},
		{"LOCALHOST.", true},
		{"127.0.0.1:1", true},
		{"[::1]:8080", true},
		{"[::1]", true},
		{"accounts.example.com:443", true},
		{"10.0.0.5", true},
		{"evil.example", false},
		{"localhost.evil.example", false},
		{"127.0.0.2", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = tt.host
			if got := hosts.Allows(r); got != tt.want {
				t.Fatalf("Allows(%q) = %v", tt.host, got)
			}
		})
	}
}

func TestValidHost(t *testing.T) {
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"name", "accounts.example.com", true},
		{"name with port", "accounts.example.com:8443", true},
		{"service name", "account_d", true},
		{"IPv4", "10.0.0.5", true},
		{"IPv6 in brackets with port", "[2001:db8::1]:8080", true},
		{"IPv6", "2001:db8::1", true},
		{"URL", "http://bad.example/", false},
		{"port not a number", "example.com:http", false},
		{"space", "a b", false},
		{"empty", "", false},
		{"empty label", "a..b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidHost(tt.host); got != tt.want {
				t.Fatalf("ValidHost(%q) = %v", tt.host, got)
			}
		})
	}
}

func TestResolveClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name, peer string
		forwarded  []string
		want       string
	}{
		{"no header", "10.0.0.1", nil, "10.0.0.1"},
		{"untrusted peer's header ignored", "192.0.2.9", []string{"198.51.100.1"}, "192.0.2.9"},
		{"one proxy", "10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"forged left of the client", "10.0.0.1", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "127.0.0.1", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"several header lines", "10.0.0.1", []string{"1.2.3.4", "198.51.100.1,10.0.0.2"}, "198.51.100.1"},
		{"all trusted: the leftmost", "10.0.0.1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"IPv6", "fd00::1", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped", "::ffff:10.0.0.1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"malformed", "10.0.0.1", []string{"198.51.100.1, nonsense"}, "10.0.0.1"},
		{"with a port", "10.0.0.1", []string{"198.51.100.1:4711"}, "10.0.0.1"},
		{"empty entry", "10.0.0.1", []string{"198.51.100.1,,"}, "10.0.0.1"},
		{"too many hops", "10.0.0.1", []string{strings.Repeat("10.0.0.2,", 40) + "198.51.100.1"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResolveClient(tt.peer, tt.forwarded, trusted); got != tt.want {
				t.Errorf("ResolveClient(%q, %q) = %q, want %q", tt.peer, tt.forwarded, got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 127.0.0.1 ,,fd00::/8")
	if err != nil || len(got) != 3 || got[1].String() != "127.0.0.1/32" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Fatal("a bad CIDR accepted")
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Fatalf("none: %v %v", got, err)
	}
}
