package principals

import "testing"

func TestAdmins(t *testing.T) {
	admins := NewAdmins([]string{" Margaret ", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"})
	for _, tt := range []struct {
		name string
		p    Principal
		want bool
	}{
		{"named, in another case", Principal{UserID: "u1", Username: "margaret"}, true},
		{"by id", Principal{UserID: "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", Username: "x"}, true},
		{"holding the role", Principal{UserID: "u2", Username: "grace", Admin: true}, true},
		{"anyone else", Principal{UserID: "u3", Username: "ada"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := admins.Include(tt.p); got != tt.want {
				t.Errorf("Include = %v, want %v", got, tt.want)
			}
		})
	}
}
