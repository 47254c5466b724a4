package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
)

// SMTPConfig is the config block of an smtp channel.
type SMTPConfig struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// From is the sender, like "Shop <hello@shop.example>".
	From string `yaml:"from"`
	// TLS is none, starttls (default) or tls (implicit TLS, usually port 465).
	TLS string `yaml:"tls"`
	// Pool is how many connections are kept and used at once; default 8.
	Pool int `yaml:"pool"`
	// Timeout bounds dialling and each SMTP exchange; default 30s.
	Timeout duration.Duration `yaml:"timeout"`
}

// idleCheck is how long a pooled connection may sit unused before it is checked with a
// NOOP before use.
const idleCheck = 15 * time.Second

// SMTP is an smtp channel: a pool of SMTP connections behind the Channel interface.
type SMTP struct {
	client *gomail.Client
	sender
	slots chan struct{} // one per connection that may be in use
	idle  chan *conn    // connections ready for the next message

	mu     sync.Mutex
	closed bool
}

type conn struct {
	c    *smtp.Client
	used time.Time
}

// Option adjusts NewSMTP.
type Option func(*[]gomail.Option)

// WithTLSConfig sets the TLS configuration, e.g. RootCAs for a private certificate.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *[]gomail.Option) { *o = append(*o, gomail.WithTLSConfig(c)) }
}

// NewSMTP checks cfg and returns the channel. It dials nothing until the first send.
func NewSMTP(cfg SMTPConfig, opts ...Option) (*SMTP, error) {
	s, err := parseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		return nil, errors.New("host is required")
	}
	if cfg.Pool <= 0 {
		cfg.Pool = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = duration.Duration(30 * time.Second)
	}
	mopts := []gomail.Option{
		gomail.WithTimeout(time.Duration(cfg.Timeout)),
		gomail.WithoutNoop(), // the pool checks idle connections itself
		gomail.WithTLSConfig(&tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}),
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
	for _, o := range opts {
		o(&mopts)
	}
	client, err := gomail.NewClient(cfg.Host, mopts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return &SMTP{client: client, sender: s, slots: make(chan struct{}, cfg.Pool), idle: make(chan *conn, cfg.Pool)}, nil
}

// Send delivers msg over a pooled connection. SMTP 4xx replies, timeouts and connection
// failures are *channels.TemporaryError; 5xx replies and bad addresses are permanent.
func (s *SMTP) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	m, err := s.build(msg)
	if err != nil {
		return channels.Receipt{}, err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return channels.Receipt{}, channels.Temporary(ctx.Err())
	}
	defer func() { <-s.slots }()

	c, err := s.get(ctx)
	if err != nil {
		return channels.Receipt{}, channels.Temporary(fmt.Errorf("connect to SMTP server: %w", err))
	}
	err = s.client.SendWithSMTPClient(c.c, m)
	if err == nil {
		s.put(c)
		return channels.Receipt{}, nil
	}
	// The session may be mid-transaction or the connection gone: keep it only if a reset
	// works.
	if rerr := s.client.ResetWithSMTPClient(c.c); rerr != nil {
		c.c.Close()
	} else {
		s.put(c)
	}
	return channels.Receipt{}, classify(err)
}

// get returns an idle connection, checked if it sat long, or dials a new one.
func (s *SMTP) get(ctx context.Context) (*conn, error) {
	for {
		select {
		case c := <-s.idle:
			if time.Since(c.used) < idleCheck || c.c.Noop() == nil {
				return c, nil
			}
			c.c.Close()
			continue
		default:
		}
		sc, err := s.client.DialToSMTPClientWithContext(ctx)
		if err != nil {
			return nil, err
		}
		return &conn{c: sc}, nil
	}
}

func (s *SMTP) put(c *conn) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.client.CloseWithSMTPClient(c.c)
		return
	}
	c.used = time.Now()
	select {
	case s.idle <- c:
	default:
		s.client.CloseWithSMTPClient(c.c)
	}
}

// Close ends every idle connection; connections in use are closed when returned.
func (s *SMTP) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for {
		select {
		case c := <-s.idle:
			s.client.CloseWithSMTPClient(c.c)
		default:
			return nil
		}
	}
}

// classify says whether a send error is worth retrying: a 5xx reply is final, anything
// else (a 4xx reply, a timeout, a dropped connection) may pass.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return fmt.Errorf("SMTP server refused the message (%d): %w", code, err)
		}
	}
	return channels.Temporary(err)
}
