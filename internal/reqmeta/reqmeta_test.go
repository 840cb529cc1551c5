package reqmeta

import (
	"net/http/httptest"
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
