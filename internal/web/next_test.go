package web

import "testing"

func TestSafeNext(t *testing.T) {
	tests := []struct{ name, next, want string }{
		{"a local path", "/settings/tokens", "/settings/tokens"},
		{"with a query", "/admin/users?q=ad", "/admin/users?q=ad"},
		{"empty", "", "/home"},
		{"protocol-relative", "//evil.example/x", "/home"},
		{"a backslash browsers read as a slash", "/\\evil.example", "/home"},
		{"a backslash later on", "/a\\b", "/home"},
		{"a tab browsers strip", "/\t/evil.example", "/home"},
		{"a newline", "/\n/evil.example", "/home"},
		{"DEL", "/\x7f/evil.example", "/home"},
		{"absolute URL", "https://evil.example/", "/home"},
		{"scheme without slashes", "javascript:alert(1)", "/home"},
		{"relative path", "settings", "/home"},
		{"an escaped slash stays a path", "/%2F/evil.example", "/%2F/evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeNext(tt.next, "/home"); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}
