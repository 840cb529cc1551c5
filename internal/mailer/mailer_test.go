package mailer

import (
	"bufio"
	"context"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// smtpServer is the least of an SMTP relay, for net/smtp to talk to: it
// records each message's envelope and data, and the data alone byte for
// byte as it came (dot-stuffed, before the final ".").
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
	data []string
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
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				msg.WriteString(l)
				data.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, msg.String())
			s.data = append(s.data, data.String())
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

// What the SMTP server receives has CRLF after every line and nowhere else:
// no bare CR or LF from a body, no header a subject or an address could
// add, whatever texts old events hold.
func TestDataLinesEndInCRLFOnly(t *testing.T) {
	srv := startSMTP(t)
	relay, err := ParseRelay("smtp://" + srv.ln.Addr().String() + "?from=accounts@example.com")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	hostile := queries.OutboxMail{UserID: "u1", NotificationID: "n1", OutboxMail: projections.OutboxMail{To: "ada@example.com",
		Subject: "Token \"ci\r\nBcc: eve@example.com\" created\u2028X-Evil: 1",
		Body:    "Hello,\r\ncrlf\rbare cr\nbare lf\u2028line separator\u0085next line\r\r\n.\r\nafter a dot\n"}}
	badTo := queries.OutboxMail{UserID: "u2", NotificationID: "n2", OutboxMail: projections.OutboxMail{To: "bob@example.com\r\nBcc: eve@example.com",
		Subject: "Hi", Body: "Hi"}}
	m := &Mailer{Relay: relay, Sent: rec, Outbox: outbox{hostile, badTo}}
	if err := m.SendPending(t.Context()); err == nil {
		t.Fatal("a recipient with a line break was not refused")
	}
	if len(rec.sent) != 1 || rec.sent[0] != "u1/n1" {
		t.Fatalf("recorded %v: only the good one is sent", rec.sent)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.data) != 1 {
		t.Fatalf("%d messages received", len(srv.data))
	}
	data := srv.data[0]
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			t.Fatalf("bare CR at %d: %q", i, data)
		case data[i] == '\n' && (i == 0 || data[i-1] != '\r'):
			t.Fatalf("bare LF at %d: %q", i, data)
		}
	}
	head, body, ok := strings.Cut(data, "\r\n\r\n")
	if !ok {
		t.Fatalf("no header end: %q", data)
	}
	var names []string
	var subject string
	for _, line := range strings.Split(head, "\r\n") {
		name, value, _ := strings.Cut(line, ": ")
		names = append(names, name)
		if name == "Subject" {
			if subject, err = new(mime.WordDecoder).DecodeHeader(value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := []string{"From", "To", "Subject", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Message-ID"}; !slices.Equal(names, want) {
		t.Fatalf("headers %v, want %v", names, want)
	}
	if subject != "Token \"ci Bcc: eve@example.com\" created X-Evil: 1" {
		t.Fatalf("subject %q", subject)
	}
	if want := "Hello,\r\ncrlf\r\nbare cr\r\nbare lf\r\nline separator\r\nnext line\r\n\r\n..\r\nafter a dot\r\n\r\n"; body != want {
		t.Fatalf("body %q, want %q", body, want)
	}
}

func TestParseRelayRefusesAFromThatIsNoAddress(t *testing.T) {
	for _, from := range []string{"a@example.com%0D%0ABcc:%20eve@example.com", "Accounts%20%3Ca@example.com%3E", "a@example.com%0A"} {
		if _, err := ParseRelay("smtp://mail.example.com?from=" + from); err == nil {
			t.Errorf("from=%s accepted", from)
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
