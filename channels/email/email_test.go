package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/smtptest"
)

func message(to string) channels.Message {
	return channels.Message{ID: "enrol-1-0", To: to, Subject: "Thank you, Anna",
		HTML: "<p>Hi Anna &lt;b&gt;</p>", Text: "Hi Anna <b>",
		UnsubscribeURL: "https://r.example/unsubscribe/TOKEN"}
}

func newSMTP(t *testing.T, srv *smtptest.Server, cfg SMTPConfig, opts ...Option) *SMTP {
	t.Helper()
	cfg.Host, cfg.Port = srv.Host, srv.Port
	if cfg.From == "" {
		cfg.From = "Shop <hello@shop.example>"
	}
	if cfg.TLS == "" {
		cfg.TLS = "none"
	}
	s, err := NewSMTP(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAnEmailCarriesBothPartsAndTheOneClickHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{})
	for i := 0; i < 2; i++ { // the same message id twice, as a retry would
		if _, err := s.Send(context.Background(), message("anna@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.WaitFor(t, 2, 5*time.Second)
	m := msgs[0]
	if m.From != "hello@shop.example" || m.To[0] != "anna@example.com" {
		t.Fatalf("envelope %s -> %v", m.From, m.To)
	}
	h := m.Header
	if got := h.Get("List-Unsubscribe"); got != "<https://r.example/unsubscribe/TOKEN>" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if got := h.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	if id := h.Get("Message-ID"); !strings.HasSuffix(id, "@shop.example>") || id != msgs[1].Header.Get("Message-ID") {
		t.Errorf("Message-IDs %q and %q: want equal, at the sender's domain", id, msgs[1].Header.Get("Message-ID"))
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", h.Get("Content-Type"))
	}
	body := string(m.Data)
	if !strings.Contains(body, "Hi Anna &lt;b&gt;") || !strings.Contains(body, "Hi Anna <b>") {
		t.Errorf("the parts were not kept as given:\n%s", body)
	}
}

func TestManyConcurrentSendsShareThePool(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{Pool: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := s.Send(context.Background(), message(fmt.Sprintf("c%d@example.com", i))); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	srv.WaitFor(t, 50, 5*time.Second)
	if n := srv.Connections(); n > 4 || n < 1 {
		t.Fatalf("%d connections for 50 messages, want at most the pool of 4", n)
	}
}

func TestTLSModesAndAuth(t *testing.T) {
	cases := []struct {
		name string
		opts []smtptest.Option
		cfg  SMTPConfig
	}{
		{"starttls", []smtptest.Option{smtptest.WithSTARTTLS()}, SMTPConfig{TLS: "starttls"}},
		{"implicit tls", []smtptest.Option{smtptest.WithTLS()}, SMTPConfig{TLS: "tls"}},
		{"starttls with auth", []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("shop", "s3cret")},
			SMTPConfig{TLS: "starttls", Username: "shop", Password: "s3cret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, c.opts...)
			s := newSMTP(t, srv, c.cfg, WithTLSConfig(&tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"}))
			if _, err := s.Send(context.Background(), message("a@example.com")); err != nil {
				t.Fatal(err)
			}
			srv.WaitFor(t, 1, 5*time.Second)
		})
	}
	t.Run("starttls refuses a server without it", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{TLS: "starttls"})
		if _, err := s.Send(context.Background(), message("a@example.com")); err == nil {
			t.Fatal("sent in the clear although starttls was required")
		}
	})
	t.Run("wrong password is refused", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("shop", "s3cret"))
		s := newSMTP(t, srv, SMTPConfig{TLS: "starttls", Username: "shop", Password: "wrong"},
			WithTLSConfig(&tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"}))
		if _, err := s.Send(context.Background(), message("a@example.com")); err == nil {
			t.Fatal("sent with a wrong password")
		}
	})
}

func TestFailuresAreClassified(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithReject(func(rcpt string) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "busy@"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		case strings.HasPrefix(rcpt, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
		}
		return nil
	}))
	s := newSMTP(t, srv, SMTPConfig{Pool: 1})
	_, err := s.Send(context.Background(), message("busy@example.com"))
	if !channels.IsTemporary(err) {
		t.Errorf("451: %v, want a temporary error", err)
	}
	_, err = s.Send(context.Background(), message("gone@example.com"))
	if err == nil || channels.IsTemporary(err) {
		t.Errorf("550: %v, want a permanent error", err)
	}
	_, err = s.Send(context.Background(), message("not an address"))
	if err == nil || channels.IsTemporary(err) {
		t.Errorf("bad address: %v, want a permanent error", err)
	}
	// The connection survived the refusals and still delivers.
	if _, err := s.Send(context.Background(), message("ok@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections, want the one reused after refusals", n)
	}
}

func TestALostConnectionIsTemporaryAndReplaced(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{Pool: 1, Timeout: duration.Duration(2 * time.Second)})
	if _, err := s.Send(context.Background(), message("a@example.com")); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, err := s.Send(context.Background(), message("b@example.com"))
	if !channels.IsTemporary(err) {
		t.Fatalf("server gone: %v, want a temporary error", err)
	}
	// A new server on another port: a channel pointed at it dials afresh.
	srv2 := smtptest.Start(t)
	s2 := newSMTP(t, srv2, SMTPConfig{Pool: 1})
	if _, err := s2.Send(context.Background(), message("c@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), message("d@example.com")); !channels.IsTemporary(err) {
		t.Fatalf("the old channel with no server: %v, want temporary, not a stale connection", err)
	}
}

func TestOutboxWritesAReadableEmail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := NewOutbox(OutboxConfig{Dir: dir, From: "Shop <hello@shop.example>"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := o.Send(context.Background(), message("anna@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(r.ProviderID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("To") != "<anna@example.com>" || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("headers %v", m.Header)
	}
	if filepath.Dir(r.ProviderID) != dir || filepath.Ext(r.ProviderID) != ".eml" {
		t.Errorf("written to %s", r.ProviderID)
	}
}

func TestConfigMistakes(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"no host":     {From: "a@b.example"},
		"no from":     {Host: "h"},
		"bad from":    {Host: "h", From: "not an address"},
		"unknown tls": {Host: "h", From: "a@b.example", TLS: "ssl"},
	} {
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewOutbox(OutboxConfig{From: "a@b.example"}); err == nil {
		t.Error("an outbox without dir was accepted")
	}
}

// BenchmarkSMTPSend sends rendered emails through a pool of 32 connections into an
// in-process SMTP server, as many goroutines at once as the pool has connections.
func BenchmarkSMTPSend(b *testing.B) {
	srv := smtptest.Start(b, smtptest.WithoutKeeping())
	s, err := NewSMTP(SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", From: "Shop <hello@shop.example>", Pool: 32})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msg := message("anna@example.com")
	msg.HTML = strings.Repeat("<p>Thank you for your order, Anna. We are packing it with care.</p>\n", 20)
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Send(context.Background(), msg); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
