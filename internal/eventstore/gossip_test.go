package eventstore_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/accountd/accountd/internal/eventstore"
	"github.com/accountd/accountd/internal/keyring"
)

// startSecureAt is startSecure with a listen and an advertised address.
func startSecureAt(t *testing.T, listen, advertise string) (*eventstore.Server, keyring.TLSFiles) {
	t.Helper()
	dir := t.TempDir()
	files, err := keyring.EnsureTLS(filepath.Join(dir, "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return startServerWith(t, eventstore.Config{Listen: listen, Advertise: advertise, DataDir: filepath.Join(dir, "log"),
		Users: map[string]string{"ops": "right-password"}, TLSCertFile: files.Cert, TLSKeyFile: files.Key, CAFile: files.CA}), files
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A discover URL (esdb+discover://, what a client of an EventStoreDB
// cluster is given) works with the official client: it reads gossip from
// the seed, picks the node reported as leader and appends and reads there.
func TestDiscoverURLAppendsAndReads(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	for _, tt := range []struct {
		name, listen, advertise string
	}{
		{"advertises the address listened on", "127.0.0.1:0", ""},
		{"advertises a configured name", "127.0.0.1:" + port, "localhost:" + port},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startSecureAt(t, tt.listen, tt.advertise)
			url := srv.DiscoverURL()
			if url[:len("esdb+discover://")] != "esdb+discover://" {
				t.Fatalf("discover URL %s", url)
			}
			c := connect(t, "esdb+discover://ops:right-password@"+url[len("esdb+discover://"):])
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stream := "discover-" + uuid.NewString()
			if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}},
				jsonEvent("a", `{"n":1}`), jsonEvent("b", `{"n":2}`)); err != nil {
				t.Fatalf("append through discovery: %v", err)
			}
			rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			var types []string
			for {
				ev, err := rs.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				types = append(types, ev.Event.EventType)
			}
			if len(types) != 2 || types[0] != "a" || types[1] != "b" {
				t.Fatalf("read back %v", types)
			}
		})
	}
}

// Gossip answers without credentials, as on EventStoreDB (the official
// client sends none on it): one member, alive, Leader, at the advertised
// address; ServerFeatures lists it. Streams stay closed to the anonymous.
func TestGossipIsAnonymousAndNamesTheLeader(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	srv, files := startSecureAt(t, "127.0.0.1:"+port, "localhost:"+port)
	pem, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := time.Now()
	info, err := gossip.NewGossipClient(conn).Read(ctx, &shared.Empty{})
	if err != nil {
		t.Fatalf("anonymous gossip: %v", err)
	}
	if len(info.Members) != 1 {
		t.Fatalf("members %v", info.Members)
	}
	m := info.Members[0]
	if m.State != gossip.MemberInfo_Leader || !m.IsAlive || m.GetInstanceId().GetStructured() == nil {
		t.Fatalf("member %v", m)
	}
	if got := net.JoinHostPort(m.HttpEndPoint.Address, strconv.Itoa(int(m.HttpEndPoint.Port))); got != "localhost:"+port || srv.Advertised() != got {
		t.Fatalf("advertised %s (server says %s), want localhost:%s", got, srv.Advertised(), port)
	}
	if stamp := time.Unix(0, m.TimeStamp*100); stamp.Before(before.Add(-time.Second)) || stamp.After(time.Now().Add(time.Second)) {
		t.Fatalf("time stamp %d is %v, not now", m.TimeStamp, stamp)
	}
	methods, err := serverfeatures.NewServerFeaturesClient(conn).GetSupportedMethods(ctx, &shared.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, m := range methods.Methods {
		listed = listed || m.ServiceName == "event_store.client.gossip.gossip" && m.MethodName == "read"
	}
	if !listed {
		t.Fatalf("gossip read not among the supported methods %v", methods.Methods)
	}
	if err := appendOne(ctx, connect(t, srv.DiscoverURL())); code(err) != esdb.ErrorCodeAccessDenied {
		t.Fatalf("anonymous append after discovery: %v, want access denied", err)
	}
}

func TestAdvertisedAddressIsChecked(t *testing.T) {
	for _, tt := range []struct{ name, advertise string }{
		{"no port", "localhost"},
		{"port zero", "localhost:0"},
		{"port out of range", "localhost:70000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := eventstore.Config{DataDir: t.TempDir(), Insecure: true, Advertise: tt.advertise}.Validate()
			if err == nil {
				t.Fatalf("advertise %q accepted", tt.advertise)
			}
		})
	}
}
