package mailer

import (
	"bufio"
	"context"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// smtpServer is the least of an SMTP relay, for net/smtp to talk to: it
// records each message's envelope and data.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func startSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var msg strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
			msg.WriteString(strings.TrimSpace(line) + "\n")
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, msg.String())
			s.mu.Unlock()
			msg.Reset()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

type outbox []queries.OutboxMail

func (o outbox) Outbox(context.Context, int) ([]queries.OutboxMail, error) { return o, nil }

type recorder struct{ sent []string }

func (r *recorder) NoteEmailed(_ context.Context, user, id string, _ events.Metadata) error {
	r.sent = append(r.sent, user+"/"+id)
	return nil
}

func TestSendPending(t *testing.T) {
	srv := startSMTP(t)
	relay, err := ParseRelay("smtp://" + srv.ln.Addr().String() + "?from=accounts@example.com")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	m := &Mailer{Relay: relay, Sent: rec, Outbox: outbox{{UserID: "u1", NotificationID: "n1",
		OutboxMail: projections.OutboxMail{To: "ada@example.com", Subject: "Parolanız değiştirildi", Body: "line one\nline two"}}}}
	if err := m.SendPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rec.sent) != 1 || rec.sent[0] != "u1/n1" {
		t.Fatalf("recorded %v", rec.sent)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 {
		t.Fatalf("%d messages", len(srv.msgs))
	}
	got := srv.msgs[0]
	for _, want := range []string{"MAIL FROM:<accounts@example.com>", "RCPT TO:<ada@example.com>", "Subject: =?utf-8?q?Parolan=C4=B1z_de=C4=9Fi=C5=9Ftirildi?=", "line one\r\nline two"} {
		if !strings.Contains(got, want) {
			t.Fatalf("message lacks %q:\n%s", want, got)
		}
	}
}

func TestParseRelay(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"smtp://mail.example.com:587?from=a@example.com", true},
		{"smtp://user:pw@mail.example.com?from=a@example.com", true},
		{"smtp://mail.example.com:25", false},
		{"http://mail.example.com?from=a@example.com", false},
		{"::", false},
	} {
		if _, err := ParseRelay(tt.in); (err == nil) != tt.ok {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
}

// A relay's refusal is reported by notification and reply code: its text,
// which often repeats the recipient's address, stays out of the log.
func TestRefusalKeepsTheAddressOutOfTheLog(t *testing.T) {
	to := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 60) + ".example.com"
	rec := &recorder{}
	m := &Mailer{Relay: Relay{Addr: "relay.invalid:25", From: "accounts@example.com"}, Sent: rec,
		Outbox: outbox{{UserID: "u1", NotificationID: "n1", OutboxMail: projections.OutboxMail{To: to, Subject: "s", Body: "b"}}},
		Send: func(string, smtp.Auth, string, []string, []byte) error {
			return &textproto.Error{Code: 550, Msg: "5.1.1 <" + to + ">: Recipient address rejected"}
		}}
	err := m.SendPending(t.Context())
	if err == nil || len(rec.sent) != 0 {
		t.Fatalf("refused mail: %v, recorded %v", err, rec.sent)
	}
	if msg := err.Error(); strings.Contains(msg, "aaaa") || !strings.Contains(msg, "n1") || !strings.Contains(msg, "550") {
		t.Fatalf("error %q", msg)
	}
}
