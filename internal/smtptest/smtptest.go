// Package smtptest runs a real SMTP server in process for tests and benchmarks: it speaks
// SMTP over TCP on loopback (plain, STARTTLS or implicit TLS, with optional AUTH PLAIN),
// keeps every message it accepts, can answer chosen recipients with 4xx or 5xx replies,
// answer slowly, and drop its connections while it keeps listening.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted email.
type Message struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To holds the envelope recipients (RCPT TO).
	To []string
	// Data is the message exactly as received after DATA.
	Data []byte
	// Header is the parsed message header.
	Header mail.Header
	// Body is the raw body after the header, still in its transfer encoding.
	Body []byte
}

// Parts returns the decoded text of each part by media type ("text/plain",
// "text/html"): the parts of a multipart message, or the body of a single-part one.
// Quoted-printable and base64 transfer encodings are undone.
func (m Message) Parts() (map[string]string, error) {
	parts := map[string]string{}
	err := walk(m.Header, bytes.NewReader(m.Body), parts)
	if media, _, _ := mime.ParseMediaType(m.Header.Get("Content-Type")); !strings.HasPrefix(media, "multipart/") {
		// The line break that ends a single-part body belongs to the message, not the text.
		for k, v := range parts {
			parts[k] = strings.TrimSuffix(v, "\r\n")
		}
	}
	return parts, err
}

func walk(h interface{ Get(string) string }, body io.Reader, parts map[string]string) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	media, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", ct, err)
	}
	if strings.HasPrefix(media, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", media, err)
			}
			if err := walk(p.Header, p, parts); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s part: %w", media, err)
	}
	parts[media] = string(data)
	return nil
}

// Server is a running SMTP server.
type Server struct {
	// Addr is host:port to dial.
	Addr string
	// Host is the loopback address the server listens on, 127.0.0.1.
	Host string
	// Port is the server's port.
	Port int

	srv      *smtp.Server
	certPool *x509.CertPool
	user     string
	pass     string
	reject   func(rcpt string) *smtp.SMTPError
	delay    time.Duration
	delayFor func(rcpt string) time.Duration
	keep     bool
	done     chan struct{}
	stop     sync.Once

	connMu sync.Mutex
	open   []net.Conn // every accepted connection, for DropConnections
	conns  atomic.Int64

	mu       sync.Mutex
	messages []Message
	count    atomic.Int64
}

// Option configures Start.
type Option func(*Server, *settings)

type settings struct{ tls, starttls bool }

// WithTLS serves implicit TLS (SMTPS) with a self-signed certificate; see TLSConfig.
func WithTLS() Option { return func(_ *Server, s *settings) { s.tls = true } }

// WithSTARTTLS offers STARTTLS with a self-signed certificate; see TLSConfig.
func WithSTARTTLS() Option { return func(_ *Server, s *settings) { s.starttls = true } }

// WithAuth requires AUTH PLAIN with these credentials before MAIL FROM.
func WithAuth(user, pass string) Option {
	return func(s *Server, _ *settings) { s.user, s.pass = user, pass }
}

// WithReject answers RCPT TO with the returned error when it is non-nil, e.g.
// &smtp.SMTPError{Code: 451, Message: "try later"}.
func WithReject(f func(rcpt string) *smtp.SMTPError) Option {
	return func(s *Server, _ *settings) { s.reject = f }
}

// WithDelay makes the server wait d before it answers the end of each message's DATA,
// like a slow or overloaded server. The message is still accepted afterwards; the wait
// ends early when the server closes.
func WithDelay(d time.Duration) Option { return func(s *Server, _ *settings) { s.delay = d } }

// WithDelayFor makes the server wait before it answers the end of DATA for the
// recipients f names: the longest f returns over a message's recipients (zero for none),
// added to WithDelay. Like a relay that is slow for some destinations only; the wait ends
// early when the server closes.
func WithDelayFor(f func(rcpt string) time.Duration) Option {
	return func(s *Server, _ *settings) { s.delayFor = f }
}

// WithoutKeeping counts messages without keeping or parsing them, for benchmarks.
func WithoutKeeping() Option { return func(s *Server, _ *settings) { s.keep = false } }

// Start runs a server on a free loopback port until the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New runs a server on a free loopback port until Close, for callers that are not tests
// (`rapport bench` uses it as its SMTP sink).
func New(opts ...Option) (*Server, error) {
	s := &Server{keep: true, done: make(chan struct{})}
	var set settings
	for _, o := range opts {
		o(s, &set)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // dropped connections are expected here
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if set.tls || set.starttls {
		cfg, err := s.selfSigned()
		if err != nil {
			l.Close()
			return nil, err
		}
		if set.tls {
			l = tls.NewListener(l, cfg)
		} else {
			s.srv.TLSConfig = cfg
		}
	}
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	go s.srv.Serve(trackingListener{l, s})
	return s, nil
}

// Close stops listening and drops every connection. It is safe to call more than once.
func (s *Server) Close() {
	s.stop.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// DropConnections closes every open connection, as a server restart or an idle timeout
// would, and keeps listening for new ones.
func (s *Server) DropConnections() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}

// CertPool trusts the server's self-signed certificate (nil without WithTLS or
// WithSTARTTLS).
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// TLSConfig is a client configuration that trusts the server's self-signed certificate
// for the name 127.0.0.1.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.certPool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Count is the number of messages accepted so far, kept or not.
func (s *Server) Count() int { return int(s.count.Load()) }

// Messages returns a copy of the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor polls until at least n messages have arrived, up to timeout, and returns them;
// it fails the test when they do not come in time.
func (s *Server) WaitFor(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for s.Count() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("smtptest: %d messages after %v, want %d", s.Count(), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s.Messages()
}

func (s *Server) selfSigned() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	s.certPool = x509.NewCertPool()
	s.certPool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, nil
}

// trackingListener counts accepted connections and remembers them for DropConnections.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.conns.Add(1)
		l.s.connMu.Lock()
		l.s.open = append(l.s.open, c)
		l.s.connMu.Unlock()
	}
	return c, err
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != se.s.user || pass != se.s.pass {
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.user != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.s.reject != nil {
		if err := se.s.reject(to); err != nil {
			return err
		}
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	var data []byte
	var err error
	if se.s.keep {
		data, err = io.ReadAll(r)
	} else {
		_, err = io.Copy(io.Discard, r)
	}
	if err != nil {
		return err
	}
	delay := se.s.delay
	if se.s.delayFor != nil {
		var most time.Duration
		for _, rcpt := range se.to {
			most = max(most, se.s.delayFor(rcpt))
		}
		delay += most
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-se.s.done:
			return &smtp.SMTPError{Code: 421, Message: "shutting down"}
		}
	}
	if se.s.keep {
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			return &smtp.SMTPError{Code: 554, Message: "malformed message: " + err.Error()}
		}
		body, err := io.ReadAll(msg.Body)
		if err != nil {
			return err
		}
		se.s.mu.Lock()
		se.s.messages = append(se.s.messages, Message{From: se.from, To: se.to, Data: data, Header: msg.Header, Body: body})
		se.s.mu.Unlock()
	}
	se.s.count.Add(1)
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }
