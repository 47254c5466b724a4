package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
)

// SMTPConfig is the config block of an smtp channel.
type SMTPConfig struct {
	// Host is the SMTP server's name; it is also the name its certificate must carry.
	Host string `yaml:"host"`
	// Port defaults to 587 for starttls, 465 for tls and 25 for none.
	Port int `yaml:"port"`
	// Username and Password turn on SMTP AUTH; the mechanism is picked from what the
	// server offers (PLAIN and LOGIN only over TLS).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// From is the sender, like "Shop <hello@shop.example>".
	From string `yaml:"from"`
	// TLS is none, starttls (default) or tls (implicit TLS, usually port 465).
	TLS string `yaml:"tls"`
	// Pool is how many connections are kept and used at once; default 8. A send the
	// server has not answered after a second moves out of the pool's way, to up to Pool
	// more connections, so a few slow recipients cannot hold up the rest.
	Pool int `yaml:"pool"`
	// Timeout bounds dialling and each SMTP exchange; default 30s.
	Timeout duration.Duration `yaml:"timeout"`
	// Return sets the return addresses (bounces, replies).
	Return `yaml:",inline"`
}

const (
	// noopAfter is how long a pooled connection may sit unused before it is checked
	// with a NOOP before use.
	noopAfter = 10 * time.Second
	// maxIdle is how long a pooled connection may sit unused at all; older ones are
	// closed and replaced, since servers drop idle clients after a while.
	maxIdle = 30 * time.Second
	// quitWait bounds the polite QUIT when connections are closed.
	quitWait = 3 * time.Second
	// slowAfter is how long a send may hold one of the pool's slots before it counts as
	// slow and moves to the slow lane.
	slowAfter = time.Second
)

// SMTP is an smtp channel: a pool of reused SMTP connections behind the Channel
// interface. A Send takes an idle connection or dials one, at most Pool at once, and
// gives it back afterwards. It is safe for concurrent use.
//
// A relay can be slow for some recipients only (a slow destination, a greylisting
// check): its answer to the end of DATA comes after seconds, up to the timeout. Such a
// send cannot be cut short, since the message may already be delivered; instead, a send
// that has held its slot for slowAfter gives the slot back and goes on in the slow
// lane, which has Pool places of its own. The fast lane keeps moving as long as fewer
// than Pool sends are slow at once, and the server never sees more than twice Pool
// connections. A slow send finding the slow lane full keeps its slot and tries again
// after another slowAfter.
type SMTP struct {
	client  *gomail.Client
	timeout time.Duration
	sender
	slots     chan struct{} // the fast lane: one token per connection that may be in use
	slowSlots chan struct{} // the slow lane: sends that held a slot for slowAfter
	slowAfter time.Duration

	mu     sync.Mutex
	idle   []*conn // ready for the next message, most recently used last
	closed bool
}

type conn struct {
	c    *smtp.Client
	used time.Time
}

// Option adjusts NewSMTP.
type Option func(*options)

type options struct {
	tls *tls.Config
}

// WithTLSConfig sets the TLS configuration for starttls and tls, e.g. RootCAs that trust
// a private certificate. ServerName defaults to the configured host.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *options) { o.tls = c }
}

// NewSMTP checks cfg, fills in its defaults and returns the channel. It dials nothing
// until the first send, so a wrong host or password shows up as a failed send.
func NewSMTP(cfg SMTPConfig, opts ...Option) (*SMTP, error) {
	s, err := parseFrom(cfg.From, cfg.Return)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		return nil, errors.New("host is required")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("port %d is out of range", cfg.Port)
	}
	if cfg.Pool < 0 {
		return nil, fmt.Errorf("pool %d: want a positive number of connections", cfg.Pool)
	}
	if cfg.Pool == 0 {
		cfg.Pool = 8
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s is negative", time.Duration(cfg.Timeout))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = duration.Duration(30 * time.Second)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tls != nil {
		tc = o.tls.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	mopts := []gomail.Option{
		gomail.WithTimeout(time.Duration(cfg.Timeout)),
		gomail.WithoutNoop(), // the pool checks idle connections itself
		gomail.WithoutRset(), // a finished DATA already ends the transaction (RFC 5321 4.1.1.4)
		gomail.WithTLSConfig(tc),
	}
	switch cfg.TLS {
	case "none":
		mopts = append(mopts, gomail.WithTLSPolicy(gomail.NoTLS))
		if cfg.Port == 0 {
			cfg.Port = 25
		}
	case "", "starttls":
		mopts = append(mopts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		if cfg.Port == 0 {
			cfg.Port = 587
		}
	case "tls":
		mopts = append(mopts, gomail.WithSSL())
		if cfg.Port == 0 {
			cfg.Port = 465
		}
	default:
		return nil, fmt.Errorf("tls must be none, starttls or tls, not %q", cfg.TLS)
	}
	mopts = append(mopts, gomail.WithPort(cfg.Port))
	if cfg.Username != "" {
		mopts = append(mopts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, mopts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return &SMTP{client: client, timeout: time.Duration(cfg.Timeout), sender: s,
		slots: make(chan struct{}, cfg.Pool), slowSlots: make(chan struct{}, cfg.Pool), slowAfter: slowAfter}, nil
}

// Send delivers msg over a pooled connection. A connection that breaks before the server
// has the message is replaced by a fresh one once, at once. No answer to the end of DATA
// (a timeout or a lost connection once the message was out) is a
// *channels.UncertainError. SMTP 4xx replies, other timeouts and connection failures,
// and a closed channel are *channels.TemporaryError; 5xx replies and bad
// addresses are permanent errors that quote the server's answer. Error texts shorten
// email addresses to their first letter and domain.
func (s *SMTP) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	h := &handOver{ctx: ctx}
	m, err := s.build(msg, gomail.WithMiddleware(h))
	if err != nil {
		return channels.Receipt{}, err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return channels.Receipt{}, channels.Temporary(fmt.Errorf("wait for an SMTP connection: %w", ctx.Err()))
	}
	defer s.hold().release()

	c, reused, err := s.get(ctx)
	if err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	h.conn = c.c
	start := time.Now()
	err = s.client.SendWithSMTPClient(c.c, m)
	if err != nil && (reused && stale(err) || broken(err) && time.Since(start) < s.timeout) {
		// The connection was gone before the server had the message: a pooled one the
		// server dropped while idle (a restart, an idle timeout), or one that broke in
		// the middle of the envelope (a restart, a reset). Nothing was sent and the
		// server said nothing about the recipient, so one fresh connection may try at
		// once rather than the message waiting out a retry. A timeout is no broken
		// connection: a second one would wait as long.
		c.c.Close()
		if c, err = s.dial(ctx); err != nil {
			return channels.Receipt{}, channels.Temporary(err)
		}
		h.conn = c.c
		err = s.client.SendWithSMTPClient(c.c, m)
	}
	if h.err != nil { // the engine refused the hand-over: the message never left
		c.c.Close()
		return channels.Receipt{}, channels.Temporary(h.err)
	}
	if err == nil {
		s.put(c)
		return channels.Receipt{ProviderID: queueID(m.ServerResponse())}, nil
	}
	if m.IsDelivered() { // accepted; only what came after failed
		c.c.Close()
		return channels.Receipt{ProviderID: queueID(m.ServerResponse())}, nil
	}
	// After a refused MAIL FROM or RCPT TO the session is clean once RSET works; after
	// anything else (a broken connection, a failure inside DATA) its state is unknown.
	if refused(err) && c.c.Reset() == nil {
		s.put(c)
	} else {
		c.c.Close()
	}
	return channels.Receipt{}, classify(err)
}

// lease is one send's place in the pool: a fast-lane slot until the send turns out
// slow, then a slow-lane one.
type lease struct {
	s     *SMTP
	timer *time.Timer

	mu   sync.Mutex
	slow bool // holds a slowSlots token instead of a slots token
	done bool
}

// hold starts the lease of a send that has just taken a fast-lane slot.
func (s *SMTP) hold() *lease {
	l := &lease{s: s}
	// The timer may fire before AfterFunc returns (a short slowAfter on a busy machine):
	// demote reads l.timer under the lock, so the lock guards its first write too.
	l.mu.Lock()
	l.timer = time.AfterFunc(s.slowAfter, l.demote)
	l.mu.Unlock()
	return l
}

// demote moves a send that is still running into the slow lane, freeing its fast-lane
// slot; with the slow lane full it keeps the slot and tries again later.
func (l *lease) demote() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done || l.slow {
		return
	}
	select {
	case l.s.slowSlots <- struct{}{}:
		l.slow = true
		<-l.s.slots
	default:
		l.timer.Reset(l.s.slowAfter)
	}
}

// release gives back whichever slot the send holds.
func (l *lease) release() {
	l.timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	if l.slow {
		<-l.s.slowSlots
	} else {
		<-l.s.slots
	}
}

// get returns an idle connection, checked with a NOOP if it sat a while, or dials a new
// one. reused says whether the connection carried messages before.
func (s *SMTP) get(ctx context.Context) (c *conn, reused bool, err error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, false, errors.New("smtp channel is closed")
		}
		n := len(s.idle)
		if n == 0 {
			s.mu.Unlock()
			c, err := s.dial(ctx)
			return c, false, err
		}
		c = s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()

		idle := time.Since(c.used)
		switch {
		case idle > maxIdle:
			c.c.Close()
		case idle > noopAfter && (c.c.UpdateDeadline(s.timeout) != nil || c.c.Noop() != nil):
			c.c.Close()
		default:
			return c, true, nil
		}
	}
}

func (s *SMTP) dial(ctx context.Context) (*conn, error) {
	sc, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to SMTP server %s: %w", s.client.ServerAddr(), err)
	}
	return &conn{c: sc}, nil
}

// put makes c available to the next Send, or closes it when the channel is closed.
func (s *SMTP) put(c *conn) {
	c.used = time.Now()
	s.mu.Lock()
	if !s.closed && len(s.idle) < cap(s.slots) {
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.quit(c)
}

// quit says goodbye to the server, briefly, and closes the connection.
func (s *SMTP) quit(c *conn) {
	if c.c.UpdateDeadline(quitWait) == nil {
		_ = c.c.Quit()
	}
	c.c.Close()
}

// Close ends every idle connection and makes later sends fail as temporary; connections
// in use are closed when their send returns.
func (s *SMTP) Close() error {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.quit(c)
		}()
	}
	wg.Wait()
	return nil
}

// stale reports whether err says the connection was gone before MAIL FROM was
// answered, so the message never reached the server.
func stale(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrConnCheck:
		return true
	case gomail.ErrSMTPMailFrom:
		code := se.ErrorCode()
		return code == 0 || code == 421 // no reply at all, or "closing channel"
	}
	return false
}

// broken reports whether err says the connection broke before the message was handed
// over: MAIL FROM, RCPT TO or DATA got no reply at all, so the server has nothing of the
// message and said nothing about it. (A 421 is a reply: the server asks to wait.)
func broken(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrConnCheck, gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData:
		return se.ErrorCode() == 0
	}
	return false
}

// refused reports whether the server answered MAIL FROM or RCPT TO with a reply that
// leaves the connection usable.
func refused(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	code := se.ErrorCode()
	return (se.Reason == gomail.ErrSMTPMailFrom || se.Reason == gomail.ErrSMTPRcptTo) &&
		code >= 400 && code < 600 && code != 421
}

// classify says whether a send error is worth retrying: a 5xx reply or a message go-mail
// cannot send is final, no answer to the end of DATA is uncertain, anything else (a 4xx
// reply, a timeout, a dropped connection before the message was out) may pass.
func classify(err error) error {
	text, _, _ := strings.Cut(err.Error(), ", affected message ID: ") // known to the caller
	e := &sendError{text: redact(text), err: err}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.Reason == gomail.ErrSMTPDataClose && se.ErrorCode() == 0 {
			// The DATA terminator went out and no answer came back (a timeout, a
			// dropped connection): the server may have taken the message.
			return channels.Uncertain(e)
		}
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			e.text = fmt.Sprintf("SMTP server refused the message with %d: %s", code, e.text)
			return e
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return e
		}
	}
	return &channels.TemporaryError{Err: e}
}

// sendError carries go-mail's error (for errors.As) under a text with addresses
// shortened, since failures end up in logs and the message history.
type sendError struct {
	text string
	err  error
}

func (e *sendError) Error() string { return e.text }
func (e *sendError) Unwrap() error { return e.err }

var address = regexp.MustCompile("([A-Za-z0-9!#$%&'*+/=?^_`{|}~-])[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]*@")

// redact shortens every email address in s to its first letter and its domain:
// anna@example.com becomes a***@example.com.
func redact(s string) string {
	return address.ReplaceAllString(s, "${1}***@")
}

// queueID picks the server's queue id out of its answer to DATA, as in Postfix's
// "2.0.0 Ok: queued as 4Xk2B1234"; it is empty when the answer names none.
func queueID(resp string) string {
	_, after, ok := strings.Cut(resp, "queued as ")
	if !ok {
		return ""
	}
	if f := strings.Fields(after); len(f) > 0 {
		return strings.TrimRight(f[0], ".,;")
	}
	return ""
}

// handOver calls channels.HandOver once the server has accepted DATA, right before the
// message and its terminator are written: go-mail runs a message's middlewares as it
// writes the message. If the engine refuses, the connection is closed before a byte of
// the message is written, so the server drops the transaction and nothing is sent.
type handOver struct {
	ctx  context.Context
	conn *smtp.Client
	err  error
}

func (h *handOver) Handle(m *gomail.Msg) *gomail.Msg {
	if h.err = channels.HandOver(h.ctx); h.err != nil {
		h.conn.Close()
	}
	return m
}

func (h *handOver) Type() gomail.MiddlewareType { return "rapport-hand-over" }
