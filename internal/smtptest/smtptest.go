// Package smtptest runs a real SMTP server in process for tests and benchmarks: it speaks
// SMTP over TCP on loopback (plain, STARTTLS or implicit TLS, with optional AUTH PLAIN),
// keeps every message it accepts, and can answer chosen recipients with 4xx or 5xx replies.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/mail"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted email.
type Message struct {
	From   string
	To     []string
	Data   []byte
	Header mail.Header
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	Host string
	Port int

	srv      *smtp.Server
	certPool *x509.CertPool
	conns    atomic.Int64
	user     string
	pass     string
	reject   func(rcpt string) *smtp.SMTPError
	keep     bool

	mu       sync.Mutex
	messages []Message
	count    atomic.Int64
}

// Option configures Start.
type Option func(*Server, *settings)

type settings struct{ tls, starttls bool }

// WithTLS serves implicit TLS (SMTPS) with a self-signed certificate; see CertPool.
func WithTLS() Option { return func(_ *Server, s *settings) { s.tls = true } }

// WithSTARTTLS offers STARTTLS with a self-signed certificate; see CertPool.
func WithSTARTTLS() Option { return func(_ *Server, s *settings) { s.starttls = true } }

// WithAuth requires AUTH PLAIN with these credentials.
func WithAuth(user, pass string) Option {
	return func(s *Server, _ *settings) { s.user, s.pass = user, pass }
}

// WithReject answers RCPT TO with the returned error when it is non-nil, e.g.
// &smtp.SMTPError{Code: 451, Message: "try later"}.
func WithReject(f func(rcpt string) *smtp.SMTPError) Option {
	return func(s *Server, _ *settings) { s.reject = f }
}

// WithoutKeeping counts messages without keeping them, for benchmarks.
func WithoutKeeping() Option { return func(s *Server, _ *settings) { s.keep = false } }

// Start runs a server on a free loopback port until the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{keep: true}
	var set settings
	for _, o := range opts {
		o(s, &set)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if set.tls || set.starttls {
		cfg := s.selfSigned(tb)
		if set.tls {
			l = tls.NewListener(l, cfg)
		} else {
			s.srv.TLSConfig = cfg
		}
	}
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	go s.srv.Serve(countingListener{l, &s.conns})
	tb.Cleanup(func() { s.Close() })
	return s
}

// Close stops the server and drops its connections.
func (s *Server) Close() { s.srv.Close() }

// CertPool trusts the server's self-signed certificate.
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Count is the number of messages accepted so far.
func (s *Server) Count() int { return int(s.count.Load()) }

// Messages returns a copy of the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor waits up to timeout for at least n messages and returns them; it fails the test
// when they do not come.
func (s *Server) WaitFor(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for s.Count() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("smtptest: %d messages after %v, want %d", s.Count(), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.Messages()
}

func (s *Server) selfSigned(tb testing.TB) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
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
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s.certPool = x509.NewCertPool()
	s.certPool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
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
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if se.s.keep {
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			return &smtp.SMTPError{Code: 554, Message: "malformed message: " + err.Error()}
		}
		se.s.mu.Lock()
		se.s.messages = append(se.s.messages, Message{From: se.from, To: se.to, Data: data, Header: msg.Header})
		se.s.mu.Unlock()
	}
	se.s.count.Add(1)
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }
