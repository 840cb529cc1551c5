package devcluster

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Each replica gets its own port for every listen flag its accountd has:
// a flag the binary lacks is not passed (it would refuse to start), one it
// has is (two replicas on its default port would collide).
func TestReplicaListenFlagsFollowTheBinary(t *testing.T) {
	for _, tt := range []struct {
		name string
		help string
		want []string
	}{
		{"HTTP only", "  -http string\n    \tHTTP listen address\n  -verbose\n    \tlog debug messages\n", []string{"--http"}},
		{"with a metrics listener", "  -http string\n    \tHTTP listen address\n  -metrics-listen string\n    \tmetrics address\n", []string{"--http", "--metrics-listen"}},
		{"a flag only named in a description", "  -http string\n    \tsee also -metrics-listen\n", []string{"--http"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "accountd")
			script := "#!/bin/sh\ncat >&2 <<'EOF'\nUsage: accountd [flags]\n\n" + tt.help + "EOF\n"
			if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			got, err := replicaListenFlags(bin)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("flags %v, want %v", got, tt.want)
			}
		})
	}
}
