package mailer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/mailer/mailtest"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// sharedOutbox is the outbox read model as replicas see it: one list for
// all, from which a mail recorded as sent goes only after a while (the
// projector's lag).
type sharedOutbox struct {
	mu      sync.Mutex
	pending []queries.OutboxMail
	sent    map[string]int
	passes  map[string]int // passes that still list a sent mail
}

func (o *sharedOutbox) Outbox(context.Context, int) ([]queries.OutboxMail, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append([]queries.OutboxMail(nil), o.pending...)
	var kept []queries.OutboxMail
	for _, m := range o.pending {
		if o.sent[m.NotificationID] > 0 {
			if o.passes[m.NotificationID]++; o.passes[m.NotificationID] > 2 {
				continue
			}
		}
		kept = append(kept, m)
	}
	o.pending = kept
	return out, nil
}

func (o *sharedOutbox) NoteEmailFailed(context.Context, commands.NoteEmailFailed, events.Metadata) error {
	return nil
}

func (o *sharedOutbox) NoteEmailed(_ context.Context, _, id string, _ events.Metadata) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[id]++
	return nil
}

// 50 pending mails and three replicas sending the outbox at once, several
// passes each, while the read model still lists mails already sent:
// exactly 50 deliveries, each mail recorded as sent once.
func TestReplicasSendEachMailOnce(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	smtpSrv := mailtest.Start(t, mailtest.Options{})
	relay, err := ParseRelay(smtpSrv.URL("accounts@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	relay.TLS = smtpSrv.ClientTLS()
	box := &sharedOutbox{sent: map[string]int{}, passes: map[string]int{}}
	for i := range 50 {
		box.pending = append(box.pending, queries.OutboxMail{UserID: "u1", NotificationID: fmt.Sprintf("n%d", i),
			OutboxMail: projections.OutboxMail{To: "ada@example.com", Subject: "s", Body: "b"}})
	}
	ctx := t.Context()
	var mailers []*Mailer
	for i := range 3 {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		claims, err := coord.New(js, coord.Options{}).Store(ctx, "mail-claims", time.Minute, aead)
		if err != nil {
			t.Fatal(err)
		}
		mailers = append(mailers, &Mailer{Relay: relay, Outbox: box, Sent: box, Claims: claims, Holder: fmt.Sprint("replica-", i)})
	}
	var wg sync.WaitGroup
	for _, m := range mailers {
		wg.Go(func() {
			for range 3 {
				if err := m.SendPending(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	delivered := len(smtpSrv.Messages())
	if delivered != 50 {
		t.Fatalf("%d deliveries of 50 mails by 3 replicas, want 50", delivered)
	}
	for i := range 50 {
		if n := box.sent[fmt.Sprintf("n%d", i)]; n != 1 {
			t.Fatalf("mail n%d recorded as sent %d times", i, n)
		}
	}
}
