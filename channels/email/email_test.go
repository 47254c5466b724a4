package email

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
	"github.com/rapporthq/rapport/internal/yamlx"
)

var unsubscribeURL = "https://rapport.shop.example/unsubscribe/" + strings.Repeat("AbCdEf0123_-", 12)

func message(to string) channels.Message {
	return channels.Message{ID: "enrol-1/step-0", To: to, Subject: "Thank you, Anna",
		HTML: "<p>Hi Anna &lt;b&gt; &amp; welcome</p>", Text: "Hi Anna <b> & welcome",
		UnsubscribeURL: unsubscribeURL}
}

func newSMTP(t testing.TB, srv *smtptest.Server, cfg SMTPConfig, opts ...Option) *SMTP {
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

func send(t *testing.T, s channels.Channel, msg channels.Message) {
	t.Helper()
	if _, err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func TestAnEmailCarriesBothPartsAndTheOneClickHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{})
	send(t, s, message("anna@example.com"))
	send(t, s, message("anna@example.com")) // the same message id again, as a retry sends it
	other := message("anna@example.com")
	other.ID = "enrol-1/step-1"
	send(t, s, other)

	msgs := srv.WaitFor(t, 3, 5*time.Second)
	m := msgs[0]
	if m.From != "hello@shop.example" || len(m.To) != 1 || m.To[0] != "anna@example.com" {
		t.Fatalf("envelope %s -> %v", m.From, m.To)
	}
	h := m.Header
	for key, want := range map[string]string{
		"From":                  `"Shop" <hello@shop.example>`,
		"To":                    "<anna@example.com>",
		"Subject":               "Thank you, Anna",
		"List-Unsubscribe":      "<" + unsubscribeURL + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	} {
		if got := h.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	id := h.Get("Message-ID")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@shop.example>") {
		t.Errorf("Message-ID %q, want <...@shop.example>", id)
	}
	if again := msgs[1].Header.Get("Message-ID"); again != id {
		t.Errorf("a resent message has Message-ID %q, the first had %q", again, id)
	}
	if next := msgs[2].Header.Get("Message-ID"); next == id {
		t.Errorf("another step's message has the same Message-ID %q", next)
	}
	media, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || media != "multipart/alternative" {
		t.Errorf("Content-Type %q (%v), want multipart/alternative", h.Get("Content-Type"), err)
	}
	parts, err := m.Parts()
	if err != nil {
		t.Fatal(err)
	}
	if got := parts["text/plain"]; got != "Hi Anna <b> & welcome" {
		t.Errorf("text part %q", got)
	}
	if got := parts["text/html"]; got != "<p>Hi Anna &lt;b&gt; &amp; welcome</p>" {
		t.Errorf("html part %q", got)
	}
}

func TestHeadersFollowTheMessage(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{})

	t.Run("a message without an unsubscribe link has no List-Unsubscribe", func(t *testing.T) {
		msg := message("order@example.com")
		msg.UnsubscribeURL = ""
		send(t, s, msg)
		m := last(t, srv, "order@example.com")
		if m.Header.Get("List-Unsubscribe") != "" || m.Header.Get("List-Unsubscribe-Post") != "" {
			t.Errorf("transactional message carries unsubscribe headers: %v", m.Header)
		}
	})
	t.Run("a subject with a line break cannot add headers", func(t *testing.T) {
		msg := message("inject@example.com")
		msg.Subject = "Hi\r\nBcc: evil@attacker.example"
		send(t, s, msg)
		m := last(t, srv, "inject@example.com")
		if m.Header.Get("Bcc") != "" || len(m.To) != 1 {
			t.Errorf("header injected: Bcc %q, recipients %v", m.Header.Get("Bcc"), m.To)
		}
	})
	t.Run("a non-ASCII subject is encoded and reads back the same", func(t *testing.T) {
		msg := message("ru@example.com")
		msg.Subject = "Спасибо за заказ, Анна!"
		send(t, s, msg)
		m := last(t, srv, "ru@example.com")
		got, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil || got != msg.Subject {
			t.Errorf("Subject %q (%v), want %q", got, err, msg.Subject)
		}
	})
	t.Run("a message with only HTML is a single HTML part", func(t *testing.T) {
		msg := message("html@example.com")
		msg.Text = ""
		send(t, s, msg)
		parts, err := last(t, srv, "html@example.com").Parts()
		if err != nil || len(parts) != 1 || parts["text/html"] != msg.HTML {
			t.Errorf("parts %q (%v)", parts, err)
		}
	})
}

// last waits for the message to rcpt that was sent last.
func last(t *testing.T, srv *smtptest.Server, rcpt string) smtptest.Message {
	t.Helper()
	var m smtptest.Message
	testutil.WaitFor(t, 5*time.Second, "a message to "+rcpt, func() bool {
		msgs := srv.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].To[0] == rcpt {
				m = msgs[i]
				return true
			}
		}
		return false
	})
	return m
}

func TestConnectionsAreReused(t *testing.T) {
	t.Run("50 concurrent sends over a pool of 4 use at most 4 connections", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 4})
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Send(context.Background(), message(fmt.Sprintf("c%d@example.com", i))); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := len(srv.WaitFor(t, 50, 5*time.Second)); got != 50 {
			t.Errorf("%d messages arrived, want 50", got)
		}
		if n := srv.Connections(); n > 4 || n < 1 {
			t.Fatalf("%d connections for 50 messages, want at most the pool of 4", n)
		}
	})
	t.Run("sends one after another share one connection", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 4})
		for i := range 10 {
			send(t, s, message(fmt.Sprintf("c%d@example.com", i)))
		}
		srv.WaitFor(t, 10, 5*time.Second)
		if n := srv.Connections(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})
}

func TestTLSModesAndAuth(t *testing.T) {
	cases := []struct {
		name string
		opts []smtptest.Option
		cfg  SMTPConfig
	}{
		{"plain SMTP is used when tls is none", nil, SMTPConfig{TLS: "none"}},
		{"starttls upgrades the connection", []smtptest.Option{smtptest.WithSTARTTLS()}, SMTPConfig{TLS: "starttls"}},
		{"implicit tls talks TLS from the start", []smtptest.Option{smtptest.WithTLS()}, SMTPConfig{TLS: "tls"}},
		{"auth works over starttls", []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("shop", "s3cret")},
			SMTPConfig{TLS: "starttls", Username: "shop", Password: "s3cret"}},
		{"auth works over implicit tls", []smtptest.Option{smtptest.WithTLS(), smtptest.WithAuth("shop", "s3cret")},
			SMTPConfig{TLS: "tls", Username: "shop", Password: "s3cret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, c.opts...)
			s := newSMTP(t, srv, c.cfg, WithTLSConfig(srv.TLSConfig()))
			send(t, s, message("a@example.com"))
			send(t, s, message("b@example.com"))
			srv.WaitFor(t, 2, 5*time.Second)
			if n := srv.Connections(); n != 1 {
				t.Errorf("%d connections, want 1 reused", n)
			}
		})
	}

	refusals := []struct {
		name string
		opts []smtptest.Option
		cfg  SMTPConfig
		tls  bool // pass the server's certificate pool
	}{
		{"starttls refuses a server that does not offer it", nil, SMTPConfig{TLS: "starttls"}, false},
		{"starttls refuses a certificate nobody vouches for", []smtptest.Option{smtptest.WithSTARTTLS()}, SMTPConfig{TLS: "starttls"}, false},
		{"implicit tls refuses a certificate nobody vouches for", []smtptest.Option{smtptest.WithTLS()}, SMTPConfig{TLS: "tls"}, false},
		{"a wrong password is refused", []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("shop", "s3cret")},
			SMTPConfig{TLS: "starttls", Username: "shop", Password: "wrong"}, true},
		{"a server requiring auth refuses a channel without it", []smtptest.Option{smtptest.WithAuth("shop", "s3cret")},
			SMTPConfig{TLS: "none"}, false},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, c.opts...)
			var opts []Option
			if c.tls {
				opts = append(opts, WithTLSConfig(srv.TLSConfig()))
			}
			s := newSMTP(t, srv, c.cfg, opts...)
			if _, err := s.Send(context.Background(), message("a@example.com")); err == nil {
				t.Fatal("sent")
			}
			if n := srv.Count(); n != 0 {
				t.Fatalf("the server accepted %d messages", n)
			}
		})
	}
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
	cases := []struct {
		name      string
		to        string
		temporary bool
		says      string
	}{
		{"a 451 reply is temporary", "busy@example.com", true, "451"},
		{"a 550 reply says its code", "gone@example.com", false, "550"},
		{"a 550 reply is permanent and quotes the server", "gone@example.com", false, "no such mailbox"},
		{"an address that is not one is permanent", "not an address", false, "recipient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Send(context.Background(), message(c.to))
			if err == nil {
				t.Fatal("sent")
			}
			if channels.IsTemporary(err) != c.temporary {
				t.Errorf("%v: temporary = %v, want %v", err, channels.IsTemporary(err), c.temporary)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("%q does not say %q", err, c.says)
			}
			if strings.Contains(err.Error(), c.to) && strings.Contains(c.to, "@") {
				t.Errorf("%q names the whole address", err)
			}
		})
	}
	t.Run("the connection survives refusals and still delivers", func(t *testing.T) {
		send(t, s, message("ok@example.com"))
		srv.WaitFor(t, 1, 5*time.Second)
		if n := srv.Connections(); n != 1 {
			t.Errorf("%d connections, want the one reused after refusals", n)
		}
	})
}

func TestNoAnswerToTheEndOfDataIsUncertain(t *testing.T) {
	// The server has the whole message and answers too late: it may deliver it, so a
	// retry could make a duplicate. The send is uncertain, not temporary.
	srv := smtptest.Start(t, smtptest.WithDelay(time.Minute))
	s := newSMTP(t, srv, SMTPConfig{Pool: 1, Timeout: duration.Duration(300 * time.Millisecond)})
	handed := 0
	ctx := channels.WithHandOver(context.Background(), func(context.Context) error { handed++; return nil })
	_, err := s.Send(ctx, message("a@example.com"))
	var u *channels.UncertainError
	if !errors.As(err, &u) || channels.IsTemporary(err) {
		t.Fatalf("%v, want an uncertain error", err)
	}
	if handed != 1 {
		t.Errorf("hand-over hook called %d times, want once", handed)
	}
	// The server keeps a message only once it has answered, a minute after it had it all.
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the send waited for the server's answer instead of timing out (%d messages kept)", n)
	}
	if n := idleConns(s); n != 0 {
		t.Errorf("%d connections kept after a timeout inside DATA, want 0", n)
	}
}

func TestBrokenConnectionsAreReplaced(t *testing.T) {
	t.Run("a connection the server dropped is redialed without failing the send", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 1})
		send(t, s, message("a@example.com"))
		srv.WaitFor(t, 1, 5*time.Second)
		srv.DropConnections()
		send(t, s, message("b@example.com"))
		srv.WaitFor(t, 2, 5*time.Second)
		if n := srv.Connections(); n != 2 {
			t.Errorf("%d connections, want 2: the dropped one and its replacement", n)
		}
	})
	// dropAt is a server that drops every connection when it is given RCPT TO for a
	// recipient that drop says so for, before it answers.
	dropAt := func(t *testing.T, drop func(rcpt string) bool) *smtptest.Server {
		var srv atomic.Pointer[smtptest.Server]
		srv.Store(smtptest.Start(t, smtptest.WithReject(func(rcpt string) *smtp.SMTPError {
			if drop(rcpt) {
				srv.Load().DropConnections()
			}
			return nil
		})))
		return srv.Load()
	}
	t.Run("a connection that breaks in the middle of the envelope is redialed at once", func(t *testing.T) {
		var drops atomic.Int32
		srv := dropAt(t, func(string) bool { return drops.Add(1) == 1 })
		s := newSMTP(t, srv, SMTPConfig{Pool: 1})
		handed := 0
		ctx := channels.WithHandOver(context.Background(), func(context.Context) error { handed++; return nil })
		if _, err := s.Send(ctx, message("a@example.com")); err != nil {
			t.Fatalf("%v, want it sent over a fresh connection", err)
		}
		if got := srv.WaitFor(t, 1, 5*time.Second); len(got) != 1 || handed != 1 || srv.Connections() != 2 {
			t.Errorf("%d messages, %d hand-overs over %d connections; want 1 and 1 over 2",
				len(got), handed, srv.Connections())
		}
	})
	t.Run("a server that breaks every connection is tried twice, then temporary", func(t *testing.T) {
		srv := dropAt(t, func(string) bool { return true })
		s := newSMTP(t, srv, SMTPConfig{Pool: 1})
		if _, err := s.Send(context.Background(), message("a@example.com")); !channels.IsTemporary(err) {
			t.Fatalf("%v, want a temporary error", err)
		}
		if n := srv.Connections(); n != 2 {
			t.Errorf("%d connections, want the first and one more", n)
		}
	})
	t.Run("a server that does not answer in time is not tried again at once", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithReject(func(string) *smtp.SMTPError {
			time.Sleep(time.Second)
			return nil
		}))
		s := newSMTP(t, srv, SMTPConfig{Pool: 1, Timeout: duration.Duration(300 * time.Millisecond)})
		if _, err := s.Send(context.Background(), message("a@example.com")); !channels.IsTemporary(err) {
			t.Fatalf("%v, want a temporary error", err)
		}
		if n := srv.Connections(); n != 1 {
			t.Errorf("%d connections, want 1: a timeout waits out a retry", n)
		}
	})
	t.Run("a connection idle a while is checked and redialed when dead", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 1})
		send(t, s, message("a@example.com"))
		srv.WaitFor(t, 1, 5*time.Second)
		age(s, noopAfter+time.Second)
		send(t, s, message("b@example.com")) // alive: NOOP passes, same connection
		age(s, noopAfter+time.Second)
		srv.DropConnections()
		send(t, s, message("c@example.com")) // dead: NOOP fails, a new connection
		srv.WaitFor(t, 3, 5*time.Second)
		if n := srv.Connections(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
	t.Run("a connection idle too long is replaced", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 1})
		send(t, s, message("a@example.com"))
		age(s, maxIdle+time.Second)
		send(t, s, message("b@example.com"))
		srv.WaitFor(t, 2, 5*time.Second)
		if n := srv.Connections(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
	t.Run("a server that is gone is temporary and leaves no connection behind", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 2, Timeout: duration.Duration(2 * time.Second)})
		send(t, s, message("a@example.com"))
		srv.Close()
		for range 2 {
			if _, err := s.Send(context.Background(), message("b@example.com")); !channels.IsTemporary(err) {
				t.Fatalf("server gone: %v, want a temporary error", err)
			}
		}
		if n := idleConns(s); n != 0 {
			t.Errorf("%d connections kept to a server that is gone", n)
		}
	})
	t.Run("a closed channel sends nothing and says so as temporary", func(t *testing.T) {
		srv := smtptest.Start(t)
		s := newSMTP(t, srv, SMTPConfig{Pool: 2})
		send(t, s, message("a@example.com"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(context.Background(), message("b@example.com")); !channels.IsTemporary(err) {
			t.Errorf("after Close: %v, want a temporary error", err)
		}
		if n := srv.Count(); n != 1 {
			t.Errorf("%d messages arrived, want 1", n)
		}
	})
	t.Run("a cancelled context does not wait for a busy pool", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithDelay(5*time.Second))
		s := newSMTP(t, srv, SMTPConfig{Pool: 1, Timeout: duration.Duration(10 * time.Second)})
		s.slowAfter = time.Hour                                      // the slow send keeps its slot
		go s.Send(context.Background(), message("slow@example.com")) // holds the only connection
		testutil.WaitFor(t, 5*time.Second, "the slow send to hold the only connection", func() bool { return len(s.slots) == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := s.Send(ctx, message("b@example.com"))
		if !channels.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v, want a temporary deadline error", err)
		}
	})
}

func idleConns(s *SMTP) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idle)
}

// age makes the pooled connections look unused for d.
func age(s *SMTP, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.idle {
		c.used = time.Now().Add(-d)
	}
}

func TestOutboxWritesAReadableEmail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := NewOutbox(OutboxConfig{Dir: dir, From: "Shop <hello@shop.example>"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("NewOutbox touched the folder: %v", err)
	}
	first, err := o.Send(context.Background(), message("anna@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := o.Send(context.Background(), message("anna@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(first.ProviderID) != dir || !strings.HasSuffix(first.ProviderID, "-enrol-1_step-0.eml") {
		t.Errorf("written to %s", first.ProviderID)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(names) != 2 || names[0] != first.ProviderID || names[1] != second.ProviderID {
		t.Errorf("files %v (%v), want the two sends in sending order", names, err)
	}
	data, err := os.ReadFile(first.ProviderID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"To":                    "<anna@example.com>",
		"Subject":               "Thank you, Anna",
		"List-Unsubscribe":      "<" + unsubscribeURL + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	} {
		if got := m.Header.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	body := strings.SplitN(string(data), "\r\n\r\n", 2)
	parts, err := smtptest.Message{Header: m.Header, Body: []byte(body[1])}.Parts()
	if err != nil || parts["text/plain"] != "Hi Anna <b> & welcome" || parts["text/html"] != "<p>Hi Anna &lt;b&gt; &amp; welcome</p>" {
		t.Errorf("parts %q (%v)", parts, err)
	}
}

func TestConfigMistakesAreRefused(t *testing.T) {
	cases := []struct {
		name string
		cfg  SMTPConfig
		says string
	}{
		{"a channel without a host", SMTPConfig{From: "a@b.example"}, "host"},
		{"a channel without a sender", SMTPConfig{Host: "h"}, "from"},
		{"a sender that is not an address", SMTPConfig{Host: "h", From: "not an address"}, "from"},
		{"an unknown tls mode", SMTPConfig{Host: "h", From: "a@b.example", TLS: "ssl"}, "tls"},
		{"a negative pool", SMTPConfig{Host: "h", From: "a@b.example", Pool: -1}, "pool"},
		{"a port out of range", SMTPConfig{Host: "h", From: "a@b.example", Port: 70000}, "port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSMTP(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("%v, want an error about %s", err, c.says)
			}
		})
	}
	t.Run("an outbox without a folder", func(t *testing.T) {
		if _, err := NewOutbox(OutboxConfig{From: "a@b.example"}); err == nil {
			t.Error("accepted")
		}
	})
}

func TestTypesAreRegisteredAndBuiltFromYAML(t *testing.T) {
	srv := smtptest.Start(t)
	cases := []struct {
		name, typ, yaml string
		wantErr         string
	}{
		{"an smtp block builds a working channel", "smtp",
			fmt.Sprintf("host: %s\nport: %d\ntls: none\nfrom: Shop <hello@shop.example>\npool: 2\ntimeout: 5s\n", srv.Host, srv.Port), ""},
		{"an outbox block builds a working channel", "outbox",
			"dir: " + t.TempDir() + "\nfrom: hello@shop.example\n", ""},
		{"an unknown key is reported with its line", "smtp",
			"host: h\nfrom: a@b.example\nhots: x\n", "channels.yaml:3"},
		{"a missing sender is refused", "outbox", "dir: x\n", "from is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node, err := yamlx.Parse("channels.yaml", []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if node.Kind == yaml.DocumentNode {
				node = node.Content[0]
			}
			typ, ok := channels.Lookup(c.typ)
			if !ok || typ.Kind != channels.KindEmail || typ.AddressKey != "email" {
				t.Fatalf("type %s: %+v, %v", c.typ, typ, ok)
			}
			ch, err := typ.New(func(v any) error { return yamlx.Decode("channels.yaml", node, v) })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("%v, want %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cl, ok := ch.(channels.Closer); ok {
				defer cl.Close()
			}
			if _, err := ch.Send(context.Background(), message("anna@example.com")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	t.Run("addresses in error texts are shortened", func(t *testing.T) {
		got := redact("550 5.1.1 <anna.smith+x@example.com>: no, affected recipient(s): bob@shop.example")
		want := "550 5.1.1 <a***@example.com>: no, affected recipient(s): b***@shop.example"
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	for resp, want := range map[string]string{
		"2.0.0 Ok: queued as 4Xk2B1234": "4Xk2B1234",
		"OK: queued as <abc@x>.":        "<abc@x>",
		"2.0.0 OK: queued":              "",
		"":                              "",
		"Ok: queued as ":                "",
	} {
		t.Run(fmt.Sprintf("the queue id of %q is %q", resp, want), func(t *testing.T) {
			if got := queueID(resp); got != want {
				t.Errorf("got %q", got)
			}
		})
	}
}

// BenchmarkSMTPSend sends rendered emails through a pool of 32 connections into an
// in-process SMTP server from many goroutines at once, and reports messages per second.
func BenchmarkSMTPSend(b *testing.B) {
	srv := smtptest.Start(b, smtptest.WithoutKeeping())
	s := newSMTP(b, srv, SMTPConfig{Pool: 32})
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

func TestAFailedHandOverSendsNothing(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{Pool: 1})
	ctx := channels.WithHandOver(context.Background(), func(context.Context) error { return errors.New("claim lost") })
	if _, err := s.Send(ctx, message("a@example.com")); !channels.IsTemporary(err) {
		t.Fatalf("%v, want a temporary error", err)
	}
	send(t, s, message("b@example.com")) // the next send works
	if got := srv.WaitFor(t, 1, 5*time.Second); len(got) != 1 || srv.Count() != 1 {
		t.Fatalf("%d messages reached the server, want only the one whose hand-over worked", srv.Count())
	}
}

func TestTheHandOverComesOnlyOnceTheServerTakesTheMessage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithReject(func(rcpt string) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "no") {
			return &smtp.SMTPError{Code: 550, Message: "no such user"}
		}
		return nil
	}))
	s := newSMTP(t, srv, SMTPConfig{Pool: 1})
	handed := 0
	ctx := channels.WithHandOver(context.Background(), func(context.Context) error { handed++; return nil })
	if _, err := s.Send(ctx, message("nobody@example.com")); err == nil || handed != 0 {
		t.Fatalf("refused recipient: %v, %d hand-overs; want a failure and none", err, handed)
	}
	if _, err := s.Send(ctx, message("a@example.com")); err != nil || handed != 1 {
		t.Fatalf("accepted: %v, %d hand-overs; want one", err, handed)
	}
}
