// Package mailer sends the e-mail outbox through an SMTP relay: each
// pending e-mail is sent, then recorded as sent (notification.emailed).
// Delivery is at least once: a crash between the two sends it again.
package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/queries"
)

// Relay is an SMTP relay: smtp://[user:password@]host:port?from=address.
type Relay struct {
	Addr string
	From string
	Auth smtp.Auth
}

// ParseRelay reads the --smtp URL.
func ParseRelay(raw string) (Relay, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Host == "" {
		return Relay{}, errors.New("want smtp://[user:password@]host:port?from=accounts@example.com")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, "25"
	}
	r := Relay{Addr: net.JoinHostPort(host, port), From: u.Query().Get("from")}
	if r.From == "" {
		return Relay{}, errors.New("the SMTP URL needs ?from=address")
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		r.Auth = smtp.PlainAuth("", u.User.Username(), pw, host)
	}
	return r, nil
}

// Outbox lists pending e-mails; Sent records one as sent.
type Outbox interface {
	Outbox(ctx context.Context, limit int) ([]queries.OutboxMail, error)
}

// Recorder records a sent e-mail.
type Recorder interface {
	NoteEmailed(ctx context.Context, userID, notificationID string, meta events.Metadata) error
}

// Mailer sends the outbox.
type Mailer struct {
	Relay  Relay
	Outbox Outbox
	Sent   Recorder
	Logger *slog.Logger
	// Send sends one message (nil: smtp.SendMail).
	Send func(addr string, a smtp.Auth, from string, to []string, msg []byte) error
}

// Run sends what is pending every interval until ctx ends.
func (m *Mailer) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.SendPending(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("outbox not sent; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SendPending sends every pending e-mail once.
func (m *Mailer) SendPending(ctx context.Context) error {
	send := m.Send
	if send == nil {
		send = smtp.SendMail
	}
	pending, err := m.Outbox.Outbox(ctx, 100)
	if err != nil {
		return err
	}
	var errs []error
	for _, mail := range pending {
		msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nMessage-ID: <%s@accountd>\r\n\r\n%s\r\n",
			m.Relay.From, mail.To, mime.QEncoding.Encode("utf-8", mail.Subject), mail.NotificationID, strings.ReplaceAll(mail.Body, "\n", "\r\n"))
		if err := send(m.Relay.Addr, m.Relay.Auth, m.Relay.From, []string{mail.To}, []byte(msg)); err != nil {
			errs = append(errs, sendError(mail.NotificationID, err))
			continue
		}
		if err := m.Sent.NoteEmailed(ctx, mail.UserID, mail.NotificationID, events.Metadata{Actor: events.ActorSystem}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sendError is what the log keeps of a refused message: a relay's reply
// often repeats the recipient's address (personal data, as long as the
// user made it), so only its code is kept.
func sendError(notificationID string, err error) error {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return fmt.Errorf("notification %s: the SMTP relay answered %d", notificationID, reply.Code)
	}
	return fmt.Errorf("notification %s: %w", notificationID, err)
}
