package eventlog_test

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/eventlog/eventlogtest"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/testenv"
)

func TestESDBContract(t *testing.T) {
	_, client := testenv.EventStore(t)
	log := eventlog.New(client)
	eventlogtest.Run(t, func(*testing.T) commands.EventLog { return log })
}

func TestMemoryContract(t *testing.T) {
	eventlogtest.Run(t, func(*testing.T) commands.EventLog { return eventlog.NewMemory() })
}

func sealedLog(t *testing.T) (eventlog.Sealed, *eventlog.Memory) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keys, err := keystore.New(testenv.Platform(t).DB, key)
	if err != nil {
		t.Fatal(err)
	}
	under := eventlog.NewMemory()
	return eventlog.Sealed{EventLog: under, Keys: keys}, under
}

func TestSealedContract(t *testing.T) {
	log, _ := sealedLog(t)
	eventlogtest.Run(t, func(*testing.T) commands.EventLog { return log })
}

// The log underneath holds personal fields sealed; readers through the
// sealed log see them as written.
func TestSealedLogStoresCiphertext(t *testing.T) {
	log, under := sealedLog(t)
	ctx := t.Context()
	mail, name := "ada@example.com", "Ada Lovelace"
	reg := events.UserRegisteredV1{UserID: "u1", Username: "ada", PasswordHash: "$argon2id$x", Profile: events.Profile{"email": mail, "full_name": name}}
	if _, err := log.Append(ctx, events.UserStream("u1"), commands.NoStream, events.Metadata{}, reg); err != nil {
		t.Fatal(err)
	}
	stored, err := under.ReadStream(ctx, events.UserStream("u1"), commands.NoStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(stored[0].Payload)
	if strings.Contains(string(raw), mail) || strings.Contains(string(raw), name) || !strings.Contains(string(raw), `"username":"ada"`) {
		t.Fatalf("stored payload %s", raw)
	}
	read, err := log.ReadStream(ctx, events.UserStream("u1"), commands.NoStream)
	if err != nil {
		t.Fatal(err)
	}
	got := read[0].Payload.(events.UserRegisteredV1)
	if got.Profile.Get("email") != mail || got.Profile.Get("full_name") != name {
		t.Fatalf("read back %+v", got.Profile)
	}
	// Streams without personal data are stored as they are.
	if _, err := log.Append(ctx, events.UsernameStream("ada"), commands.NoStream, events.Metadata{}, events.UsernameClaimedV1{Username: "ada", UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
}
