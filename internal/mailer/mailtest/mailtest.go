// Package mailtest runs a real SMTP server in-process for tests
// (github.com/emersion/go-smtp): AUTH PLAIN required whenever the session
// is encrypted, STARTTLS (or implicit TLS) with a certificate made at
// start, and every message it accepts kept, byte for byte, for the test to
// read. Tests of the mailer and of the service (the e-mails a flow sends)
// read what was really received, not what a sender meant to send.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape the server.
type Options struct {
	// ImplicitTLS: TLS from the first byte (an smtps:// relay) instead of
	// STARTTLS.
	ImplicitTLS bool
	// NoTLS: neither STARTTLS nor implicit TLS, and no AUTH (AUTH PLAIN is
	// never offered in clear): a plain relay on a trusted network.
	NoTLS bool
	// Refuse, when set, is asked about each recipient; an error refuses it
	// (an *smtp.SMTPError gives the reply code).
	Refuse func(to string) error
}

// User and Password are the credentials the server accepts.
const (
	User     = "mailer"
	Password = "s3cret-relay-password"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte // as received, dot-stuffing undone
	TLS  bool   // the session was encrypted
	Auth bool   // the session authenticated
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	// CA trusts the server's certificate (nil with NoTLS).
	CA   *x509.CertPool
	opts Options

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{} // closed and replaced on each message
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, arrived: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, encrypted := c.TLSConnectionState()
		return &session{srv: s, conn: c, tls: encrypted}, nil
	}))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = quiet{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !opts.NoTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatal(err)
		}
		s.CA = pool
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.ImplicitTLS {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
	}
	s.Addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

// URL is the --smtp URL for this server, sending as from; with
// credentials unless the server has no TLS.
func (s *Server) URL(from string) string {
	u := url.URL{Scheme: "smtp", Host: s.Addr, RawQuery: url.Values{"from": {from}}.Encode()}
	if s.opts.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if !s.opts.NoTLS {
		u.User = url.UserPassword(User, Password)
	}
	return u.String()
}

// ClientTLS is the TLS configuration a client needs to trust the server.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.CA, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Messages are the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until at least n messages were accepted (or ctx ends) and
// returns them all.
func (s *Server) Wait(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs, arrived := append([]Message(nil), s.msgs...), s.arrived
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("%d messages of %d arrived: %w", len(msgs), n, ctx.Err())
		case <-arrived:
		}
	}
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	tls  bool
	auth bool
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string {
	if s.srv.opts.NoTLS {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != User || password != Password {
			return smtp.ErrAuthFailed
		}
		s.auth = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.srv.opts.NoTLS && !s.auth {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if refuse := s.srv.opts.Refuse; refuse != nil {
		if err := refuse(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, encrypted := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, Message{From: s.from, To: s.to, Data: data, TLS: encrypted, Auth: s.auth})
	close(s.srv.arrived)
	s.srv.arrived = make(chan struct{})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

type quiet struct{}

func (quiet) Printf(string, ...any) {}
func (quiet) Println(...any)        {}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// Parsed is a received message read with net/mail and mime/multipart.
type Parsed struct {
	Header mail.Header
	Text   string // the text/plain part, decoded
	HTML   string // the text/html part, decoded
}

// Parse reads the message: its header, and the text and HTML parts of a
// multipart/alternative body (or a single text part).
func (m Message) Parse() (Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Header: msg.Header}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return p, err
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		text, err := decode(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		p.Text = text
		return p, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart() // raw: the transfer encoding is decoded below, for every encoding
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return p, err
		}
		text, err := decode(part, part.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return p, err
		}
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.Text = text
		case "text/html":
			p.HTML = text
		}
	}
}

// Subject is the decoded Subject header.
func (p Parsed) Subject() (string, error) {
	return new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
}

func decode(r io.Reader, encoding string) (string, error) {
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // skips the line breaks
	}
	b, err := io.ReadAll(r)
	return string(b), err
}
