package mailer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"slices"
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

func (o *sharedOutbox) DueOutbox(context.Context, time.Time, int) ([]queries.OutboxMail, error) {
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
	srv := startNATS(t)
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
		claims := claimStore(t, srv, time.Minute)
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

func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
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
	return srv
}

// claimStore is the service's mail-claims store as one replica opens it.
func claimStore(t *testing.T, srv *natsserver.Server, ttl time.Duration) *coord.Store {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	claims, err := coord.New(js, coord.Options{}).Store(t.Context(), "mail-claims", ttl, aead)
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

// dying records nothing: its process dies right after the relay accepted
// the mail, before recording it.
type dying struct{ *box }

func (dying) NoteEmailed(context.Context, string, string, events.Metadata) error {
	return errors.New("process died")
}

// A replica that dies between the relay accepting a mail and recording it
// leaves its claim: another replica sends the mail once more when the
// claim expires (not before), with the same Message-ID, and records it;
// then never again. One that dies after claiming, before sending, loses
// nothing: the mail is sent once the claim expires.
func TestCrashSendsAtMostOnceMoreAndLosesNothing(t *testing.T) {
	natsSrv := startNATS(t)
	const ttl = time.Second
	for _, tt := range []struct {
		name       string
		crash      func(t *testing.T, m *Mailer, claims *coord.Store) // the first replica's last deeds
		deliveries int
	}{
		{"after sending, before recording", func(t *testing.T, m *Mailer, _ *coord.Store) {
			m.Sent = dying{m.Sent.(*box)}
			if err := m.SendPending(t.Context()); err == nil {
				t.Fatal("recording did not fail")
			}
		}, 2},
		{"after claiming, before sending", func(t *testing.T, m *Mailer, claims *coord.Store) {
			if ok, err := claims.Claim(t.Context(), "n1", m.Holder); !ok || err != nil {
				t.Fatalf("claim: %v %v", ok, err)
			}
		}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.Options{})
			b := newBox(outboxMail("n1", "ada@example.com", "s", "b"))
			claimsA, claimsB := claimStore(t, natsSrv, ttl), claimStore(t, natsSrv, ttl)
			a := mailerFor(t, srv, b)
			a.Claims, a.Holder = claimsA, "replica-a"
			tt.crash(t, a, claimsA)
			claimed := time.Now()
			// Every claim of this test's mail is purged once it is over.
			t.Cleanup(func() { _ = claimsB.Delete(context.Background(), "n1") })

			bm := mailerFor(t, srv, b)
			bm.Claims, bm.Holder = claimsB, "replica-b"
			if err := bm.SendPending(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := len(srv.Messages()); got != tt.deliveries-1 && time.Since(claimed) < ttl {
				t.Fatalf("%d deliveries while the dead replica's claim holds", got)
			}
			deadline := time.Now().Add(30 * time.Second)
			for b.sentCount("n1") == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("not sent after the claim expired: %d deliveries", len(srv.Messages()))
				}
				time.Sleep(100 * time.Millisecond)
				if err := bm.SendPending(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				if err := bm.SendPending(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			msgs := srv.Messages()
			if len(msgs) != tt.deliveries || b.sentCount("n1") != 1 {
				t.Fatalf("%d deliveries, recorded %d times; want %d, once", len(msgs), b.sentCount("n1"), tt.deliveries)
			}
			var ids []string
			for _, msg := range msgs {
				p, err := msg.Parse()
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, p.Header.Get("Message-Id"))
			}
			if ids = slices.Compact(ids); len(ids) != 1 || ids[0] != "<n1@example.com>" {
				t.Fatalf("message ids %v", ids)
			}
		})
	}
}
