package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/mailer/mailtest"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// box is the outbox read model and the commands that change it, as the
// mailer sees them: NoteEmailed takes a mail out, NoteEmailFailed records
// the attempt and when to retry (as the projector does).
type box struct {
	mu        sync.Mutex
	mails     []queries.OutboxMail
	sent      map[string]int
	failures  []commands.NoteEmailFailed
	recordErr error // NoteEmailed fails with it (the process "dies" before recording)
}

func newBox(mails ...queries.OutboxMail) *box { return &box{mails: mails, sent: map[string]int{}} }

func (b *box) DueOutbox(_ context.Context, now time.Time, limit int) ([]queries.OutboxMail, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []queries.OutboxMail
	for _, m := range b.mails {
		if b.sent[m.NotificationID] == 0 && !projections.Time(m.RetryAt).After(now) && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

func (b *box) NoteEmailed(_ context.Context, _, id string, _ events.Metadata) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.recordErr != nil {
		return b.recordErr
	}
	b.sent[id]++
	return nil
}

func (b *box) NoteEmailFailed(_ context.Context, f commands.NoteEmailFailed, _ events.Metadata) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, f)
	for i := range b.mails {
		if b.mails[i].NotificationID == f.NotificationID {
			b.mails[i].Attempts, b.mails[i].LastError, b.mails[i].RetryAt = f.Attempt, f.Error, f.RetryAt.UTC().Format(time.RFC3339Nano)
		}
	}
	return nil
}

func (b *box) sentCount(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent[id]
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Email(kind, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[kind+"/"+outcome]++
}

func outboxMail(id, to, subject, body string) queries.OutboxMail {
	return queries.OutboxMail{UserID: "u1", NotificationID: id, OutboxMail: projections.OutboxMail{To: to, Subject: subject, Body: body,
		Kind: "password_changed", Lang: "en", CreatedAt: "2026-12-07T10:00:00Z"}}
}

// mailerFor is a mailer sending to srv, trusting its certificate.
func mailerFor(t testing.TB, srv *mailtest.Server, b *box) *Mailer {
	t.Helper()
	relay, err := ParseRelay(srv.URL("accounts@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	relay.TLS = srv.ClientTLS()
	return &Mailer{Relay: relay, Outbox: b, Sent: b}
}

func only(t *testing.T, srv *mailtest.Server) (mailtest.Message, mailtest.Parsed) {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages received, want 1", len(msgs))
	}
	p, err := msgs[0].Parse()
	if err != nil {
		t.Fatalf("%v:\n%s", err, msgs[0].Data)
	}
	return msgs[0], p
}

// A mail reaches a real SMTP server over STARTTLS with AUTH, as text and
// HTML in the user's language, with Date, a stable Message-ID on the
// sender's domain, Auto-Submitted and an encoded subject.
func TestSendPending(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	mail := outboxMail("n1", "ada@example.com", "Parolanız değiştirildi", "Parolanız değiştirildi <b>&</b>.\n\nBakın: https://accounts.example.com/settings/password?a=1&b=2.\nTeşekkürler")
	mail.Lang = "tr"
	b := newBox(mail)
	count := &counter{}
	m := mailerFor(t, srv, b)
	m.Count = count
	if err := m.SendPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b.sentCount("n1") != 1 || len(b.failures) != 0 {
		t.Fatalf("recorded %v, failures %v", b.sent, b.failures)
	}
	got, p := only(t, srv)
	if !got.TLS || !got.Auth || got.From != "accounts@example.com" || !slices.Equal(got.To, []string{"ada@example.com"}) {
		t.Fatalf("envelope %q -> %q, tls %v, auth %v", got.From, got.To, got.TLS, got.Auth)
	}
	subject, err := p.Subject()
	if err != nil || subject != "Parolanız değiştirildi" || !strings.HasPrefix(p.Header.Get("Subject"), "=?UTF-8?") {
		t.Fatalf("subject %q (%q): %v", subject, p.Header.Get("Subject"), err)
	}
	date, err := p.Header.Date()
	if err != nil || !date.Equal(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("date %v: %v", date, err)
	}
	for name, want := range map[string]string{"Message-Id": "<n1@example.com>", "Auto-Submitted": "auto-generated", "Content-Language": "tr", "From": "<accounts@example.com>", "To": "<ada@example.com>"} {
		if v := p.Header.Get(name); v != want {
			t.Errorf("%s: %q, want %q", name, v, want)
		}
	}
	if !strings.HasPrefix(p.Header.Get("Content-Type"), "multipart/alternative;") {
		t.Fatalf("content type %q", p.Header.Get("Content-Type"))
	}
	if want := strings.ReplaceAll(mail.Body, "\n", "\r\n"); p.Text != want {
		t.Fatalf("text %q, want %q", p.Text, want)
	}
	for _, want := range []string{`<html lang="tr">`, "<title>Parolanız değiştirildi</title>", "<p>Parolanız değiştirildi &lt;b&gt;&amp;&lt;/b&gt;.</p>",
		`Bakın: <a href="https://accounts.example.com/settings/password?a=1&amp;b=2">https://accounts.example.com/settings/password?a=1&amp;b=2</a>.<br>`} {
		if !strings.Contains(p.HTML, want) {
			t.Fatalf("HTML lacks %q:\n%s", want, p.HTML)
		}
	}
	if count.n["password_changed/sent"] != 1 {
		t.Fatalf("counted %v", count.n)
	}
}

// smtps:// speaks TLS from the first byte; a relay without TLS gets the
// mail in clear but never the password: a URL with credentials for it
// fails, and the attempt is recorded.
func TestRelayModes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		opts      mailtest.Options
		withCreds bool
		sent      bool
		tls       bool
	}{
		{"starttls", mailtest.Options{}, true, true, true},
		{"implicit tls", mailtest.Options{ImplicitTLS: true}, true, true, true},
		{"plain relay", mailtest.Options{NoTLS: true}, false, true, false},
		{"credentials for a relay without tls", mailtest.Options{NoTLS: true}, true, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opts)
			b := newBox(outboxMail("n1", "ada@example.com", "s", "b"))
			m := mailerFor(t, srv, b)
			if tt.withCreds {
				m.Relay.User, m.Relay.Password = mailtest.User, mailtest.Password
			}
			err := m.SendPending(t.Context())
			if tt.sent != (err == nil) || tt.sent != (b.sentCount("n1") == 1) {
				t.Fatalf("sent %v: %v, recorded %v", tt.sent, err, b.sent)
			}
			if !tt.sent {
				if len(srv.Messages()) != 0 || len(b.failures) != 1 || !strings.Contains(b.failures[0].Error, "AUTH") {
					t.Fatalf("received %d, failures %+v", len(srv.Messages()), b.failures)
				}
				return
			}
			if got, _ := only(t, srv); got.TLS != tt.tls {
				t.Fatalf("tls %v", got.TLS)
			}
		})
	}
}

func TestParseRelay(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want string // host:port, or "" for an error
		tls  bool
	}{
		{"port", "smtp://mail.example.com:587?from=a@example.com", "mail.example.com:587", false},
		{"credentials and default port", "smtp://user:pw@mail.example.com?from=a@example.com", "mail.example.com:25", false},
		{"smtps default port", "smtps://user:pw@mail.example.com?from=a@example.com", "mail.example.com:465", true},
		{"smtps port", "smtps://mail.example.com:2465?from=a@example.com", "mail.example.com:2465", true},
		{"no from", "smtp://mail.example.com:25", "", false},
		{"other scheme", "http://mail.example.com?from=a@example.com", "", false},
		{"bad port", "smtp://mail.example.com:0?from=a@example.com", "", false},
		{"no host", "smtp://:25?from=a@example.com", "", false},
		{"no url", "::", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRelay(tt.in)
			if (err == nil) != (tt.want != "") {
				t.Fatalf("%q: %v", tt.in, err)
			}
			if err == nil && (r.Addr() != tt.want || r.ImplicitTLS != tt.tls) {
				t.Fatalf("%q: %s tls %v", tt.in, r.Addr(), r.ImplicitTLS)
			}
		})
	}
}

// What the SMTP server receives has CRLF after every line and nowhere else:
// no bare CR or LF from a body, no header a subject or an address could
// add, whatever texts old events hold.
func TestDataLinesEndInCRLFOnly(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	hostile := outboxMail("n1", "ada@example.com", "Token \"ci\r\nBcc: eve@example.com\" created\u2028X-Evil: 1",
		"Hello,\r\ncrlf\rbare cr\nbare lf\u2028line separator\u0085next line\r\r\n.\r\nafter a dot\n")
	badTo := outboxMail("n2", "bob@example.com\r\nBcc: eve@example.com", "Hi", "Hi")
	b := newBox(hostile, badTo)
	count := &counter{}
	m := mailerFor(t, srv, b)
	m.Count = count
	if err := m.SendPending(t.Context()); err == nil {
		t.Fatal("a recipient with a line break was not refused")
	}
	if b.sentCount("n1") != 1 || b.sentCount("n2") != 0 {
		t.Fatalf("recorded %v: only the good one is sent", b.sent)
	}
	if len(b.failures) != 1 || b.failures[0].NotificationID != "n2" || strings.Contains(b.failures[0].Error, "eve") || count.n["password_changed/invalid"] != 1 {
		t.Fatalf("failures %+v, counted %v", b.failures, count.n)
	}
	got, p := only(t, srv)
	data := string(got.Data)
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			t.Fatalf("bare CR at %d: %q", i, data)
		case data[i] == '\n' && (i == 0 || data[i-1] != '\r'):
			t.Fatalf("bare LF at %d: %q", i, data)
		}
	}
	if !slices.Equal(got.To, []string{"ada@example.com"}) {
		t.Fatalf("recipients %v", got.To)
	}
	allowed := []string{"Auto-Submitted", "Content-Language", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To", "X-Auto-Response-Suppress"}
	for name := range p.Header {
		if !slices.Contains(allowed, name) {
			t.Fatalf("header %s: %q", name, data)
		}
	}
	if subject, err := p.Subject(); err != nil || subject != "Token \"ci Bcc: eve@example.com\" created X-Evil: 1" {
		t.Fatalf("subject %q: %v", subject, err)
	}
	if want := "Hello,\r\ncrlf\r\nbare cr\r\nbare lf\r\nline separator\r\nnext line\r\n\r\n.\r\nafter a dot\r\n"; p.Text != want {
		t.Fatalf("text %q, want %q", p.Text, want)
	}
}

func TestParseRelayRefusesAFromThatIsNoAddress(t *testing.T) {
	for _, from := range []string{"a@example.com%0D%0ABcc:%20eve@example.com", "Accounts%20%3Ca@example.com%3E", "a@example.com%0A"} {
		if _, err := ParseRelay("smtp://mail.example.com?from=" + from); err == nil {
			t.Errorf("from=%s accepted", from)
		}
	}
}

// A relay's refusal is reported and recorded by notification and reply
// code: its text, which often repeats the recipient's address, stays out
// of the log and the recorded failure.
func TestRefusalKeepsTheAddressOutOfTheLog(t *testing.T) {
	to := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 60) + ".example.com"
	srv := mailtest.Start(t, mailtest.Options{Refuse: func(rcpt string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + rcpt + ">: Recipient address rejected"}
	}})
	b := newBox(outboxMail("n1", to, "s", "b"))
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m := mailerFor(t, srv, b)
	m.Now = func() time.Time { return now }
	err := m.SendPending(t.Context())
	if err == nil || b.sentCount("n1") != 0 {
		t.Fatalf("refused mail: %v, recorded %v", err, b.sent)
	}
	if msg := err.Error(); strings.Contains(msg, "aaaa") || !strings.Contains(msg, "n1") || !strings.Contains(msg, "550") {
		t.Fatalf("error %q", msg)
	}
	if len(b.failures) != 1 {
		t.Fatalf("failures %+v", b.failures)
	}
	f := b.failures[0]
	if f.Attempt != 1 || !f.RetryAt.Equal(now.Add(time.Minute)) || strings.Contains(f.Error, "aaaa") || !strings.Contains(f.Error, "550 5.1.1") {
		t.Fatalf("failure %+v", f)
	}
}

// A refused mail is retried after 1, then 2 minutes (not before), and sent
// once the relay takes it; every attempt is counted.
func TestFailuresBackOff(t *testing.T) {
	var refusals int
	var mu sync.Mutex
	srv := mailtest.Start(t, mailtest.Options{Refuse: func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if refusals < 2 {
			refusals++
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	b := newBox(outboxMail("n1", "ada@example.com", "s", "b"))
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := start
	count := &counter{}
	m := mailerFor(t, srv, b)
	m.Now, m.Count = func() time.Time { return now }, count
	for _, step := range []struct {
		at       time.Duration
		failures int
		sent     int
	}{
		{0, 1, 0},
		{30 * time.Second, 1, 0}, // backing off
		{time.Minute, 2, 0},
		{2 * time.Minute, 2, 0}, // 2 minutes after the second failure: not yet
		{3 * time.Minute, 2, 1},
		{time.Hour, 2, 1}, // sent: not again
	} {
		now = start.Add(step.at)
		_ = m.SendPending(t.Context())
		if len(b.failures) != step.failures || b.sentCount("n1") != step.sent {
			t.Fatalf("at %v: failures %+v, sent %d", step.at, b.failures, b.sentCount("n1"))
		}
	}
	if f := b.failures[1]; f.Attempt != 2 || !f.RetryAt.Equal(start.Add(3*time.Minute)) || !strings.Contains(f.Error, "451") {
		t.Fatalf("second failure %+v", f)
	}
	if len(srv.Messages()) != 1 || count.n["password_changed/failed"] != 2 || count.n["password_changed/sent"] != 1 {
		t.Fatalf("received %d, counted %v", len(srv.Messages()), count.n)
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		failed int
		want   time.Duration
	}{{0, time.Minute}, {1, time.Minute}, {2, 2 * time.Minute}, {6, 32 * time.Minute}, {7, time.Hour}, {70, time.Hour}} {
		t.Run(fmt.Sprint(tt.failed), func(t *testing.T) {
			if got := Backoff(tt.failed); got != tt.want {
				t.Fatalf("Backoff(%d) = %v, want %v", tt.failed, got, tt.want)
			}
		})
	}
}

// A relay that cannot be reached fails every mail due, each recorded with
// the connection's error, and the next pass dials again.
func TestUnreachableRelay(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	b := newBox(outboxMail("n1", "ada@example.com", "s", "b"), outboxMail("n2", "bob@example.com", "s", "b"))
	m := mailerFor(t, srv, b)
	m.Relay.TLS = nil // the system's roots do not trust the test's certificate
	if err := m.SendPending(t.Context()); err == nil {
		t.Fatal("sent to an untrusted relay")
	}
	if len(b.failures) != 2 || !strings.Contains(b.failures[0].Error, "connecting to the SMTP relay") || !strings.Contains(b.failures[0].Error, "certificate") {
		t.Fatalf("failures %+v", b.failures)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a message reached an untrusted relay")
	}
}

// A mail sent but not recorded (the event store was down) is recorded by
// the next pass, not sent again.
func TestSentButUnrecordedIsNotSentAgain(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	b := newBox(outboxMail("n1", "ada@example.com", "s", "b"))
	b.recordErr = errors.New("event store unavailable")
	m := mailerFor(t, srv, b)
	if err := m.SendPending(t.Context()); err == nil || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("pass: %v", err)
	}
	b.mu.Lock()
	b.recordErr = nil
	b.mu.Unlock()
	if err := m.SendPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages()) != 1 || b.sentCount("n1") != 1 {
		t.Fatalf("received %d, recorded %v", len(srv.Messages()), b.sent)
	}
}

func TestMessageIDDomain(t *testing.T) {
	for _, tt := range []struct {
		name, domain, from, id, want string
	}{
		{"sender's domain", "", "a@Example.COM", "n1", "n1@example.com"},
		{"given domain", "accounts.example.org", "a@example.com", "n1", "n1@accounts.example.org"},
		{"odd id", "", "a@example.com", "n 1>", "%s@example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &Mailer{Relay: Relay{From: tt.from}, Domain: tt.domain}
			got := messageID(tt.id, m.domain())
			if strings.Contains(tt.want, "%s") {
				if _, err := mail.ParseAddress(got); err != nil || strings.ContainsAny(got, " >") {
					t.Fatalf("%q: %v", got, err)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("%q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkDeliver sends b.N mails to the in-process SMTP server (STARTTLS,
// AUTH), 100 a pass over one connection, as the service does; it reports
// mails/s.
func BenchmarkDeliver(b *testing.B) {
	srv := mailtest.Start(b, mailtest.Options{})
	var mails []queries.OutboxMail
	for i := range b.N {
		mails = append(mails, outboxMail(fmt.Sprint("n", i), "ada@example.com", "Parolanız değiştirildi", "The password of your account ada was changed.\n\nhttps://accounts.example.com/settings/password"))
	}
	bx := newBox(mails...)
	m := mailerFor(b, srv, bx)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for len(srv.Messages()) < b.N {
		if err := m.SendPending(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mails/s")
}
