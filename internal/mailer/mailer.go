// Package mailer sends the e-mail outbox through an SMTP relay with
// github.com/wneessen/go-mail: each pending e-mail is claimed, sent, then
// recorded as sent (notification.emailed). Delivery is at least once: a
// crash between sending and recording sends it again once the claim
// expires (with the same Message-ID, so a mail client shows it once); the
// claim, shared by replicas, keeps two replicas (or one replica's next
// pass, before the outbox read model has caught up) from sending it twice.
// A failed attempt is recorded (notification.email_failed: the attempt,
// the error, when to try again) and retried with exponential backoff.
package mailer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// Relay is an SMTP relay: smtp://[user:password@]host[:port]?from=address
// (STARTTLS whenever the server offers it) or smtps://... (TLS from the
// first byte, port 465 by default). Credentials, when given, are sent only
// over TLS.
type Relay struct {
	Host        string
	Port        int
	ImplicitTLS bool
	From        string
	User        string
	Password    string
	// TLS verifies the relay's certificate (nil: the system's roots, for
	// Host).
	TLS *tls.Config
}

// Addr is host:port.
func (r Relay) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// ParseRelay reads the --smtp URL.
func ParseRelay(raw string) (Relay, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
		return Relay{}, errors.New("want smtp://[user:password@]host:port?from=accounts@example.com (or smtps:// for TLS from the start)")
	}
	r := Relay{ImplicitTLS: u.Scheme == "smtps", Host: u.Hostname(), Port: 25, From: u.Query().Get("from")}
	if r.ImplicitTLS {
		r.Port = 465
	}
	if p := u.Port(); p != "" {
		if r.Port, err = strconv.Atoi(p); err != nil || r.Port < 1 || r.Port > 65535 {
			return Relay{}, fmt.Errorf("the SMTP URL's port %q is not a port number", p)
		}
	}
	if r.Host == "" {
		return Relay{}, errors.New("the SMTP URL needs a host")
	}
	if r.From == "" {
		return Relay{}, errors.New("the SMTP URL needs ?from=address")
	}
	if !oneAddress(r.From) {
		return Relay{}, errors.New("the SMTP URL's from= is not one bare address, like accounts@example.com")
	}
	if u.User != nil {
		r.User = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	return r, nil
}

// Outbox lists pending e-mails whose next attempt is due at now.
type Outbox interface {
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]queries.OutboxMail, error)
}

// Recorder records a sent e-mail, or a failed attempt.
type Recorder interface {
	NoteEmailed(ctx context.Context, userID, notificationID string, meta events.Metadata) error
	NoteEmailFailed(ctx context.Context, cmd commands.NoteEmailFailed, meta events.Metadata) error
}

// Claims record which process sends a mail: Claim is true for the one
// caller that claimed key (a claim lasts about a minute: longer than a
// send, shorter than a crash worth waiting for); Delete gives a claim up.
// coord.Store is the service's (shared by replicas).
type Claims interface {
	Claim(ctx context.Context, key, holder string) (bool, error)
	Delete(ctx context.Context, key string) error
}

// Counter counts e-mails by kind and outcome (metrics.Metrics).
type Counter interface {
	Email(kind, outcome string)
}

// Outcomes of a mail's attempt, as counted.
const (
	OutcomeSent    = "sent"    // the relay accepted it
	OutcomeFailed  = "failed"  // the relay refused it or could not be reached; retried
	OutcomeInvalid = "invalid" // no message could be made of it (a recipient that is not one address); retried, in vain until fixed
)

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
	// Domain is the right side of every Message-ID. There is no
	// --public-url yet: the service passes "" and the sender's domain is
	// used; issue 20's --public-url sets its host here.
	Domain string
	// Count, when set, counts each attempt (accountd_emails_total).
	Count Counter
	// Now is the clock (nil: time.Now); Backoff, the wait before attempt
	// n+1 after n failed (nil: Backoff).
	Now     func() time.Time
	Backoff func(failed int) time.Duration

	// unrecorded are mails this process sent but could not record as sent:
	// the next pass records them without sending them again. Kept to this
	// process, and harmless so: another replica that takes over sends such
	// a mail once more when its claim expires (at most once more).
	mu         sync.Mutex
	unrecorded map[string]bool
}

// Backoff is the default wait after n failed attempts: 1 minute, doubled
// each time, at most an hour.
func Backoff(failed int) time.Duration {
	if failed < 1 {
		failed = 1
	}
	if failed > 7 {
		return time.Hour
	}
	return min(time.Minute<<(failed-1), time.Hour)
}

// Run sends what is pending every interval until ctx ends.
func (m *Mailer) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.SendPending(ctx); err != nil && ctx.Err() == nil {
			m.logger().Warn("outbox not all sent; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SendPending sends every pending e-mail that is due once, over one
// connection to the relay.
func (m *Mailer) SendPending(ctx context.Context) error {
	now := m.now()
	pending, err := m.Outbox.DueOutbox(ctx, now, 100)
	if err != nil {
		return err
	}
	var (
		errs    []error
		client  *gomail.Client
		dialErr error // the relay could not be reached: every mail due this pass fails with it
	)
	defer func() {
		if client != nil {
			_ = client.Close()
		}
	}()
	for _, mail := range pending {
		if ctx.Err() != nil {
			break
		}
		if m.wasUnrecorded(mail.NotificationID) {
			errs = append(errs, m.recordSent(ctx, mail))
			continue
		}
		if retry := projections.Time(mail.RetryAt); retry.After(now) {
			continue // backing off
		}
		msg, err := m.message(mail, now)
		if err != nil {
			errs = append(errs, m.fail(ctx, mail, OutcomeInvalid, err, false))
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
		if client == nil && dialErr == nil {
			if client, dialErr = m.dial(ctx); dialErr != nil {
				dialErr = fmt.Errorf("connecting to the SMTP relay: %s", failureText(dialErr))
			}
		}
		if dialErr != nil {
			errs = append(errs, m.fail(ctx, mail, OutcomeFailed, dialErr, true))
			continue
		}
		if err := client.Send(msg); err != nil {
			// The connection may be unusable now: the next mail dials again.
			_ = client.Close()
			client = nil
			if !msg.IsDelivered() { // delivered, then RSET failed: sent all the same
				errs = append(errs, m.fail(ctx, mail, OutcomeFailed, errors.New(failureText(err)), true))
				continue
			}
		}
		m.count(mail, OutcomeSent)
		errs = append(errs, m.recordSent(ctx, mail))
	}
	return errors.Join(errs...)
}

// recordSent records a sent mail; if that fails, the next pass records it
// again instead of sending it again.
func (m *Mailer) recordSent(ctx context.Context, mail queries.OutboxMail) error {
	err := m.Sent.NoteEmailed(ctx, mail.UserID, mail.NotificationID, events.Metadata{Actor: events.ActorSystem})
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if m.unrecorded == nil {
			m.unrecorded = map[string]bool{}
		}
		m.unrecorded[mail.NotificationID] = true
		return fmt.Errorf("notification %s: sent, not recorded: %w", mail.NotificationID, err)
	}
	delete(m.unrecorded, mail.NotificationID)
	return nil
}

func (m *Mailer) wasUnrecorded(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unrecorded[id]
}

// fail counts and records a failed attempt, due again after the backoff.
// The claim (if taken) is given up once the failure is recorded: the
// recorded time to retry keeps everyone waiting from then on; unrecorded,
// the claim's expiry does.
func (m *Mailer) fail(ctx context.Context, mail queries.OutboxMail, outcome string, cause error, claimed bool) error {
	m.count(mail, outcome)
	backoff := m.Backoff
	if backoff == nil {
		backoff = Backoff
	}
	attempt := mail.Attempts + 1
	failure := commands.NoteEmailFailed{UserID: mail.UserID, NotificationID: mail.NotificationID, Attempt: attempt,
		Error: cause.Error(), RetryAt: m.now().Add(backoff(attempt))}
	err := fmt.Errorf("notification %s: attempt %d: %w", mail.NotificationID, attempt, cause)
	if rerr := m.Sent.NoteEmailFailed(ctx, failure, events.Metadata{Actor: events.ActorSystem}); rerr != nil {
		return errors.Join(err, fmt.Errorf("notification %s: failure not recorded: %w", mail.NotificationID, rerr))
	}
	if claimed && m.Claims != nil {
		_ = m.Claims.Delete(context.WithoutCancel(ctx), mail.NotificationID)
	}
	return err
}

func (m *Mailer) count(mail queries.OutboxMail, outcome string) {
	if m.Count == nil {
		return
	}
	kind := mail.Kind
	if kind == "" {
		kind = "unknown"
	}
	m.Count.Email(kind, outcome)
}

func (m *Mailer) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Mailer) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// dial connects to the relay: TLS from the start (smtps), else STARTTLS
// whenever the server offers it; AUTH when the relay has credentials,
// with a mechanism that sends the password only over TLS.
func (m *Mailer) dial(ctx context.Context) (*gomail.Client, error) {
	r := m.Relay
	tlsConfig := &tls.Config{ServerName: r.Host, MinVersion: tls.VersionTLS12}
	if r.TLS != nil {
		tlsConfig = r.TLS.Clone()
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = r.Host
		}
	}
	opts := []gomail.Option{gomail.WithPort(r.Port), gomail.WithTimeout(30 * time.Second), gomail.WithTLSConfig(tlsConfig)}
	if r.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if r.User != "" {
		// Auto-discovery picks PLAIN or LOGIN only on an encrypted
		// connection: a relay without TLS gets no password.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(r.User), gomail.WithPassword(r.Password))
	}
	c, err := gomail.NewClient(r.Host, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// message is one e-mail: text and HTML alternatives of the same text, in
// the language it was rendered in. Texts in it (a token's title, a
// service's name) may come from events written before single-line fields
// refused line breaks: the subject loses its line breaks (go-mail then
// encodes it, RFC 2047), a recipient holding one is refused, and the
// body's line endings of every kind become one kind, which go-mail writes
// as CRLF (a bare CR or LF in DATA is read differently by different
// servers: smuggling).
func (m *Mailer) message(email queries.OutboxMail, now time.Time) (*gomail.Msg, error) {
	if !oneAddress(email.To) {
		return nil, errors.New("the recipient is not one bare address")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(m.Relay.From); err != nil {
		return nil, fmt.Errorf("the sender: %w", err)
	}
	if err := msg.To(email.To); err != nil {
		return nil, errors.New("the recipient is not one bare address")
	}
	subject := oneLine(email.Subject)
	msg.Subject(subject)
	date := projections.Time(email.CreatedAt) // stable: a mail sent again is the same mail
	if date.IsZero() {
		date = now
	}
	msg.SetDateWithValue(date)
	msg.SetMessageIDWithValue(messageID(email.NotificationID, m.domain()))
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	lang := languageTag(email.Lang)
	if lang != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, lang)
	}
	text := validate.NormalizeLineEndings(email.Body)
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, htmlBody(subject, text, lang))
	return msg, nil
}

// domain is the Message-ID's domain: Domain, else the sender's.
func (m *Mailer) domain() string {
	d := m.Domain
	if d == "" {
		_, d, _ = strings.Cut(m.Relay.From, "@")
	}
	d = strings.ToLower(d)
	if !dotAtom.MatchString(d) {
		return "accountd.invalid"
	}
	return d
}

var dotAtom = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// messageID is the notification's Message-ID: the same for every attempt,
// so a mail sent once more after a crash reads as the same message.
func messageID(notificationID, domain string) string {
	left := notificationID
	if !dotAtom.MatchString(left) || len(left) > 64 {
		sum := sha256.Sum256([]byte(notificationID))
		left = hex.EncodeToString(sum[:16])
	}
	return left + "@" + domain
}

// languageTag is a known language tag, or "" (mails raised before the
// language was recorded).
func languageTag(lang string) string {
	switch lang {
	case "en", "tr":
		return lang
	}
	return ""
}

var link = regexp.MustCompile(`https?://[^\s<>"]+`)

// htmlBody is the text as HTML: escaped, paragraphs at blank lines, line
// breaks kept, and links made anchors.
func htmlBody(subject, text, lang string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html")
	if lang != "" {
		b.WriteString(` lang="` + lang + `"`)
	}
	b.WriteString(">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html.EscapeString(subject) + "</title>\n</head>\n<body>\n")
	for _, para := range strings.Split(strings.Trim(text, "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			b.WriteString(linkify(line))
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.String()
}

// linkify escapes a line and makes each http(s) URL in it an anchor (a
// sentence's closing punctuation stays outside it).
func linkify(line string) string {
	var b strings.Builder
	last := 0
	for _, loc := range link.FindAllStringIndex(line, -1) {
		end := loc[1]
		for end > loc[0] && strings.ContainsRune(".,;:!?)'", rune(line[end-1])) {
			end--
		}
		u := line[loc[0]:end]
		b.WriteString(html.EscapeString(line[last:loc[0]]))
		b.WriteString(`<a href="` + html.EscapeString(u) + `">` + html.EscapeString(u) + `</a>`)
		last = end
	}
	b.WriteString(html.EscapeString(line[last:]))
	return b.String()
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

// failureText is what is kept of a failure (in the log and the
// notification.email_failed event): a relay's reply often repeats the
// recipient's address (personal data, as long as the user made it), so of
// a reply only its code is kept, with the step it answered.
func failureText(err error) string {
	var send *gomail.SendError
	if errors.As(err, &send) {
		s := send.Reason.String()
		if code := send.ErrorCode(); code != 0 {
			s += ": the SMTP relay answered " + strconv.Itoa(code)
			if esc := send.EnhancedStatusCode(); esc != "" {
				s += " " + esc
			}
		}
		return s
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		step := ""
		if strings.HasPrefix(err.Error(), "SMTP AUTH failed") {
			step = "AUTH: "
		}
		return step + "the SMTP relay answered " + strconv.Itoa(reply.Code)
	}
	return err.Error() // a network or TLS error: the relay's address at most
}
