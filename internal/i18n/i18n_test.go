package i18n

import (
	"maps"
	"slices"
	"testing"
)

// Both languages have every message, and a field without its own message
// gets its rule's generic one.
func TestCatalogs(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	en, tr := slices.Sorted(maps.Keys(c["en"])), slices.Sorted(maps.Keys(c["tr"]))
	if !slices.Equal(en, tr) {
		t.Fatalf("catalogs differ:\nen %v\ntr %v", en, tr)
	}
	for _, tt := range []struct{ lang, code, want string }{
		{"en", "full_name.too_long", "A full name can have at most 200 characters."},
		{"en", "pronouns.too_long", "This field can have at most 200 characters."},
		{"tr", "pronouns.too_long", "Bu alan en fazla 200 karakter olabilir."},
		{"en", "no.such_rule", "no.such_rule"},
	} {
		if got := c.Message(tt.lang, tt.code, map[string]int{"max": 200}); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.lang, tt.code, got, tt.want)
		}
	}
}
