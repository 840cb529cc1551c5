package platform_test

import (
	"strings"
	"testing"

	"github.com/accountd/accountd/internal/platform"
)

// The URLs of servers are logged and printed with their passwords hidden,
// also when several are given (a NATS cluster: comma-separated URLs, each
// with the credentials; MongoDB and EventStoreDB: several hosts in one).
func TestRedactHidesEveryPassword(t *testing.T) {
	for _, tc := range []struct {
		name, url, want string
	}{
		{"one URL", "nats://accountd:s3cret@nats:4222", "nats://accountd:xxxxx@nats:4222"},
		{"no password", "nats://nats:4222", "nats://nats:4222"},
		{"NATS cluster", "nats://accountd:s3cret@nats1:4222,nats://accountd:s3cret@nats2:4222,nats://accountd:s3cret@nats3:4222",
			"nats://accountd:xxxxx@nats1:4222,nats://accountd:xxxxx@nats2:4222,nats://accountd:xxxxx@nats3:4222"},
		{"MongoDB replica set", "mongodb://accountd:s3cret@mongo1:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0&authSource=admin",
			"mongodb://accountd:xxxxx@mongo1:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0&authSource=admin"},
		{"EventStoreDB cluster", "esdb://admin:s3cret@esdb1:2113,esdb2:2113,esdb3:2113?tls=true",
			"esdb://admin:xxxxx@esdb1:2113,esdb2:2113,esdb3:2113?tls=true"},
		{"unparsable", "nats://accountd:s3cret@[bad:4222", "nats://xxxxx@[bad:4222"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := platform.Redact(tc.url)
			if strings.Contains(got, "s3cret") {
				t.Fatalf("redact(%q) = %q: the password shows", tc.url, got)
			}
			if got != tc.want {
				t.Errorf("redact(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}
