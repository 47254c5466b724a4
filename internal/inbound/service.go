package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/inbound/providers"
	"github.com/rapporthq/rapport/internal/inbound/smtpd"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
)

// Service is the listening side of a Rapport process, built from the config: the
// Listener, the inbound SMTP server when inbound.smtp is set, the provider webhooks and
// the click redirect.
type Service struct {
	*Listener
	cfg   *config.Config
	hooks map[string]providers.Provider // by channel name
	smtp  *smtpd.Server                 // nil without inbound.smtp
	addrs []smtpd.Address
	log   *slog.Logger
	done  chan error
}

// Parts are what a Service needs of the rest of the process.
type Parts struct {
	Store   *store.Store
	Keys    *signing.Keys
	Intake  Intake
	Consent Consent
	// Count counts feedback by channel and kind (rapport_feedback_total); may be nil.
	Count  func(channel, kind string)
	Logger *slog.Logger
	// HTTPClient fetches SES signing certificates; nil for the default.
	HTTPClient *http.Client
}

// NewService builds the listening side for cfg. Nothing listens until Start.
func NewService(cfg *config.Config, p Parts) (*Service, error) {
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, hooks: map[string]providers.Provider{}, log: p.Logger}
	listening := map[string]bool{}
	var opts []providers.Option
	if p.HTTPClient != nil {
		opts = append(opts, providers.WithHTTPClient(p.HTTPClient))
	}
	names := make([]string, 0, len(cfg.Channels))
	for name := range cfg.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ch := cfg.Channels[name]
		if !ch.Listens() {
			continue
		}
		listening[name] = true
		r := ch.Returns()
		if r.Bounces != "" {
			s.addrs = append(s.addrs, smtpd.Address{Kind: smtpd.Bounces, Address: r.Bounces})
		}
		if r.Replies != "" {
			s.addrs = append(s.addrs, smtpd.Address{Kind: smtpd.Replies, Address: r.Replies})
		}
		ev, err := ch.Events()
		if err != nil {
			return nil, err
		}
		if ev != nil {
			pr, err := providers.New(*ev, opts...)
			if err != nil {
				return nil, fmt.Errorf("channels.%s.%w", name, err)
			}
			s.hooks[name] = pr
		}
	}
	s.Listener = New(Config{Store: p.Store, Intake: p.Intake, Consent: p.Consent, Keys: p.Keys, Listening: listening,
		SoftBounceLimit: cfg.Inbound.SoftBounceLimit, Count: p.Count, Logger: p.Logger})
	if in := cfg.Inbound.SMTP; in != nil {
		domain := in.Domain
		if domain == "" {
			if u, err := url.Parse(cfg.HTTP.BaseURL); err == nil {
				domain = u.Hostname()
			}
		}
		srv, err := smtpd.New(smtpd.Config{Addr: in.Addr, Domain: domain, MaxSize: in.MaxSize, Addresses: s.addrs,
			Verifier: s.SMTP(), Receiver: s.SMTP(), Logger: p.Logger,
			Refused: func(string) { s.reject("", "a recipient refused at RCPT") }})
		if err != nil {
			return nil, fmt.Errorf("inbound.smtp: %w", err)
		}
		s.smtp = srv
	}
	return s, nil
}

// EngineReturn is the engine's Config.Return.
func (s *Service) EngineReturn() func(ctx context.Context, r store.Ref) (*channels.Return, error) {
	return s.Return
}

// EngineClickURL is the engine's Config.ClickURL: nil with tracking.clicks off.
func (s *Service) EngineClickURL() func(r store.Ref, url string) string {
	if !s.cfg.Tracking.ClicksOn() {
		return nil
	}
	return s.ClickURL(s.cfg.HTTP.BaseURL)
}

// Routes adds the public endpoints: GET and HEAD /c/{token}, and POST /hooks/CHANNEL
// for each channel with `events:`.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /c/{token}", s.Click)
	mux.HandleFunc("HEAD /c/{token}", s.Click)
	for name, p := range s.hooks {
		mux.Handle("POST /hooks/"+name, s.Hook(name, p))
	}
}

// SMTPAddresses are the return addresses the inbound SMTP server accepts.
func (s *Service) SMTPAddresses() []smtpd.Address { return s.addrs }

// Start starts the inbound SMTP server, when configured, on its address; it fails when
// the address cannot be listened on.
func (s *Service) Start() error {
	if s.smtp == nil {
		return nil
	}
	l, err := net.Listen("tcp", s.cfg.Inbound.SMTP.Addr)
	if err != nil {
		return fmt.Errorf("inbound.smtp: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.smtp.Serve(l) }()
	s.log.Info("inbound smtp listening", "addr", l.Addr().String(), "addresses", len(s.addrs))
	return nil
}

// Shutdown stops the inbound SMTP server, waiting until ctx ends for conversations
// under way.
func (s *Service) Shutdown(ctx context.Context) error {
	if s.smtp == nil || s.done == nil {
		return nil
	}
	err := s.smtp.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.smtp.Close()
	}
	return errors.Join(err, <-s.done)
}

// ConsentFunc adapts a function to Consent, for an engine built after the Service.
type ConsentFunc func(ctx context.Context, id, channel string, subscribed bool) error

// SetConsent calls f.
func (f ConsentFunc) SetConsent(ctx context.Context, id, channel string, subscribed bool) error {
	return f(ctx, id, channel, subscribed)
}
