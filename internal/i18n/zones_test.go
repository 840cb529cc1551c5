package i18n

import (
	"testing"
)

func TestZones(t *testing.T) {
	var z Zones
	for _, tt := range []struct{ name, zone, want string }{
		{"unnamed", "", "UTC"},
		{"known", "Europe/Istanbul", "Europe/Istanbul"},
		{"known, again from the cache", "Europe/Istanbul", "Europe/Istanbul"},
		{"unknown", "Etc/Unknown", "UTC"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := z.Location(tt.zone).String(); got != tt.want {
				t.Errorf("Location(%q) = %s, want %s", tt.zone, got, tt.want)
			}
		})
	}
	if z.Location("Europe/Istanbul") != z.Location("Europe/Istanbul") {
		t.Error("loaded twice")
	}
}
