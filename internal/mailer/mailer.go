// Package mailer sends the e-mail outbox through an SMTP relay: each
// pending e-mail is claimed, sent, then recorded as sent
// (notification.emailed). Delivery is at least once: a crash between
// sending and recording sends it again once the claim expires; the claim,
// shared by replicas, keeps two replicas (or one replica's next pass,
// before the outbox read model has caught up) from sending it twice.
package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
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
	if !oneAddress(r.From) {
		return Relay{}, errors.New("the SMTP URL's from= is not one bare address, like accounts@example.com")
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

// Claims record which process sends a mail: Claim is true for the one
// caller that claimed key (a claim lasts about a minute: longer than a
// send, shorter than a crash worth waiting for); Delete gives a claim up.
// coord.Store is the service's (shared by replicas).
type Claims interface {
	Claim(ctx context.Context, key, holder string) (bool, error)
	Delete(ctx context.Context, key string) error
}

// Mailer sends the outbox.
type Mailer struct {
	Relay  Relay
	Outbox Outbox
	Sent   Recorder
	Logger *slog.Logger
	// Claims, when set, are taken before each mail is sent, as Holder:
	// a mail claimed elsewhere is left to its claimant. Nil: none (one
	// process alone).
	Claims Claims
	Holder string
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
		msg, err := message(m.Relay.From, mail)
		if err != nil {
			errs = append(errs, err) // stays pending: nothing is recorded as sent that was not
			continue
		}
		if m.Claims != nil {
			claimed, err := m.Claims.Claim(ctx, mail.NotificationID, m.Holder)
			if err != nil {
				errs = append(errs, fmt.Errorf("notification %s: not claimed: %w", mail.NotificationID, err))
				continue // unclaimed, unsent: the next pass tries again
			}
			if !claimed {
				continue // being sent (or just sent) elsewhere
			}
		}
		if err := send(m.Relay.Addr, m.Relay.Auth, m.Relay.From, []string{mail.To}, msg); err != nil {
			errs = append(errs, sendError(mail.NotificationID, err))
			if m.Claims != nil {
				// Not sent: anyone may try again at once.
				_ = m.Claims.Delete(context.WithoutCancel(ctx), mail.NotificationID)
			}
			continue
		}
		if err := m.Sent.NoteEmailed(ctx, mail.UserID, mail.NotificationID, events.Metadata{Actor: events.ActorSystem}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// message is the DATA of one e-mail, every line ended by CRLF, and no
// line that a value can start: texts in it (a token's title, a service's
// name) may come from events written before single-line fields refused
// line breaks, so header values lose theirs, an address holding one is
// refused, and the body's line endings of every kind become CRLF (a bare
// CR or LF in DATA is read differently by different servers: smuggling).
func message(from string, email queries.OutboxMail) ([]byte, error) {
	if !oneAddress(email.To) {
		return nil, fmt.Errorf("notification %s: the recipient is not one bare address", email.NotificationID)
	}
	body := strings.ReplaceAll(validate.NormalizeLineEndings(email.Body), "\n", "\r\n")
	return fmt.Appendf(nil, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nMessage-ID: <%s@accountd>\r\n\r\n%s\r\n",
		from, email.To, mime.QEncoding.Encode("utf-8", oneLine(email.Subject)), oneLine(email.NotificationID), body), nil
}

// oneLine is a header value without line breaks: each run of them (CR,
// LF, VT, FF, NEL, U+2028, U+2029) becomes one space.
func oneLine(s string) string {
	if strings.IndexFunc(s, validate.IsLineBreak) < 0 {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, validate.IsLineBreak), " ")
}

// oneAddress: a bare address (no display name) without a line break, as
// it goes into a header and the SMTP envelope as it is.
func oneAddress(s string) bool {
	if strings.IndexFunc(s, func(r rune) bool { return validate.IsLineBreak(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
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
