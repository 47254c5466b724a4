// Package smtpd is Rapport's inbound SMTP server, the one the MX of the bounces and
// replies domains points at. It accepts a recipient only when it is one of the
// configured return addresses with a TOKEN that verifies (LOCAL+TOKEN@DOMAIN); any other
// recipient is refused at RCPT with a 5xx, so the server is never a relay. Each accepted
// message is handed whole to a Receiver, once per accepted recipient.
package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// DefaultMaxSize is the largest message accepted when Config.MaxSize is 0: 1 MB.
const DefaultMaxSize = 1 << 20

// MaxToken is the longest TOKEN a return address may carry.
const MaxToken = 64

// Kind is what a return address is for.
type Kind string

// The two kinds of return address.
const (
	Bounces Kind = "bounces"
	Replies Kind = "replies"
)

// Address is one configured return address, like bounces@mail.shop.example, whose
// VERP form LOCAL+TOKEN@DOMAIN the server accepts.
type Address struct {
	Kind Kind
	// Address is the configured LOCAL@DOMAIN.
	Address string
}

// TokenVerifier checks the TOKEN of a return address: nil when it names a message
// Rapport sent, an error otherwise.
type TokenVerifier interface {
	VerifyToken(kind Kind, token string) error
}

// Delivery is one message accepted for one return address.
type Delivery struct {
	// Kind is the kind of the return address the message was sent to.
	Kind Kind
	// Token is the verified TOKEN of that address.
	Token string
	// From is the envelope sender; empty for the null sender (<>), which DSNs and
	// RFC 3834 auto-replies use.
	From string
	// Data is the message as received.
	Data []byte
}

// Receiver takes the accepted messages. An error it returns is answered with a
// temporary failure (451), so the sending server tries again later: it is for a
// failure to store, not for a message Rapport does not understand, which Receive
// should count and drop.
type Receiver interface {
	Receive(ctx context.Context, d Delivery) error
}

// Config configures a Server.
type Config struct {
	// Addr is the listen address, like ":2525".
	Addr string
	// Domain is the name the server greets with; default "localhost".
	Domain string
	// MaxSize is the largest message accepted, in bytes; default DefaultMaxSize.
	MaxSize int64
	// Addresses are the return addresses whose VERP forms are accepted.
	Addresses []Address
	// Verifier checks each TOKEN.
	Verifier TokenVerifier
	// Receiver takes each accepted message.
	Receiver Receiver
	// Refused, when set, is called for each recipient refused at RCPT.
	Refused func(rcpt string)
	// Logger logs refused recipients and receive failures; default slog.Default().
	Logger *slog.Logger
}

// Server is the inbound SMTP server.
type Server struct {
	srv   *smtp.Server
	cfg   Config
	addrs map[string]Kind // lower-case LOCAL@DOMAIN -> kind
}

// New returns a server for cfg, or an error naming a return address that is not one.
func New(cfg Config) (*Server, error) {
	if cfg.Verifier == nil || cfg.Receiver == nil {
		return nil, errors.New("smtpd: Verifier and Receiver are required")
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, addrs: map[string]Kind{}}
	for _, a := range cfg.Addresses {
		local, domain, ok := strings.Cut(a.Address, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(a.Address, "+<> ") || strings.Count(a.Address, "@") != 1 {
			return nil, fmt.Errorf("%s address %q is not LOCAL@DOMAIN without a +", a.Kind, a.Address)
		}
		s.addrs[strings.ToLower(a.Address)] = a.Kind
	}
	s.srv = smtp.NewServer(s)
	s.srv.Addr = cfg.Addr
	s.srv.Domain = cfg.Domain
	s.srv.MaxMessageBytes = cfg.MaxSize
	s.srv.MaxRecipients = 10
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = slogAdapter{cfg.Logger}
	return s, nil
}

// Serve accepts connections on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.srv.Serve(l)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on Config.Addr and serves until Shutdown or Close.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("inbound smtp: %w", err)
	}
	return s.Serve(l)
}

// Shutdown stops accepting connections and waits, until ctx ends, for the open
// conversations to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.srv.Close() }

// Match tells whether rcpt is the VERP form of a configured return address, and
// returns its kind and TOKEN; it does not verify the TOKEN.
func (s *Server) Match(rcpt string) (Kind, string, bool) {
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return "", "", false
	}
	local, domain := rcpt[:at], rcpt[at+1:]
	base, token, ok := strings.Cut(local, "+")
	if !ok || !validToken(token) {
		return "", "", false
	}
	kind, ok := s.addrs[strings.ToLower(base+"@"+domain)]
	return kind, token, ok
}

func validToken(t string) bool {
	if t == "" || len(t) > MaxToken {
		return false
	}
	for _, c := range []byte(t) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s}, nil
}

type rcpt struct {
	kind  Kind
	token string
}

type session struct {
	s     *Server
	from  string
	rcpts []rcpt
}

var errNoRelay = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "no such recipient here; this server relays nothing"}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	kind, token, ok := ss.s.Match(to)
	if ok {
		if err := ss.s.cfg.Verifier.VerifyToken(kind, token); err == nil {
			ss.rcpts = append(ss.rcpts, rcpt{kind, token})
			return nil
		}
	}
	if ss.s.cfg.Refused != nil {
		ss.s.cfg.Refused(to)
	}
	ss.s.cfg.Logger.Debug("inbound smtp: recipient refused", "domain", domainOf(to))
	return errNoRelay
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp's own 552 for a message over MaxSize, or the connection's error
	}
	for _, rc := range ss.rcpts {
		d := Delivery{Kind: rc.kind, Token: rc.token, From: ss.from, Data: data}
		if err := ss.s.cfg.Receiver.Receive(context.Background(), d); err != nil {
			ss.s.cfg.Logger.Error("inbound smtp: receive", "kind", string(rc.kind), "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "could not store the message; try again later"}
		}
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.rcpts = "", nil }

func (ss *session) Logout() error { return nil }

func domainOf(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[at+1:]
	}
	return ""
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.l.Warn("inbound smtp: " + fmt.Sprintf(format, v...))
}
func (a slogAdapter) Println(v ...any) { a.l.Warn("inbound smtp: " + fmt.Sprint(v...)) }
