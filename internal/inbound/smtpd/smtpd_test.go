package smtpd

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
)

// tokens verifies the tokens it holds, per kind.
type tokens map[string]Kind

func (t tokens) VerifyToken(kind Kind, token string) error {
	if t[token] != kind {
		return errors.New("unknown token")
	}
	return nil
}

type inbox struct {
	mu   sync.Mutex
	got  []Delivery
	fail error
}

func (in *inbox) Receive(_ context.Context, d Delivery) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return in.fail
	}
	in.got = append(in.got, d)
	return nil
}

func (in *inbox) deliveries() []Delivery {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Delivery(nil), in.got...)
}

func start(t *testing.T, cfg Config) (string, *inbox) {
	t.Helper()
	in := &inbox{}
	cfg.Receiver = in
	if cfg.Verifier == nil {
		cfg.Verifier = tokens{"AbC.d-1_x": Bounces, "Rp.2": Replies}
	}
	cfg.Addresses = []Address{{Bounces, "bounces@mail.shop.example"}, {Replies, "Replies@Mail.Shop.Example"}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return l.Addr().String(), in
}

func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("mx.example.net"); err != nil {
		t.Fatal(err)
	}
	return c
}

func send(c *smtp.Client, from, to, body string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	return w.Close()
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestMessagesToVerifiedReturnAddressesAreReceived(t *testing.T) {
	addr, in := start(t, Config{})
	c := dial(t, addr)
	if err := send(c, "", "bounces+AbC.d-1_x@mail.shop.example", "Subject: dsn\r\n\r\nbody\r\n"); err != nil {
		t.Fatalf("bounce: %v", err)
	}
	if err := send(c, "anna@example.org", "replies+Rp.2@mail.shop.example", "Subject: re\r\n\r\nthanks\r\n"); err != nil {
		t.Fatalf("reply (with the configured address in another case): %v", err)
	}
	got := in.deliveries()
	if len(got) != 2 {
		t.Fatalf("deliveries = %+v, want 2", got)
	}
	if d := got[0]; d.Kind != Bounces || d.Token != "AbC.d-1_x" || d.From != "" || !strings.Contains(string(d.Data), "Subject: dsn") {
		t.Errorf("bounce delivery = %+v", d)
	}
	if d := got[1]; d.Kind != Replies || d.Token != "Rp.2" || d.From != "anna@example.org" {
		t.Errorf("reply delivery = %+v", d)
	}
}

func TestRecipientsThatAreNotOursAreRefusedAtRCPT(t *testing.T) {
	var refused atomic.Int32
	addr, in := start(t, Config{Refused: func(string) { refused.Add(1) }})
	rcpts := []string{
		"someone@gmail.com",                                         // a relay attempt
		"bounces@mail.shop.example",                                 // no token
		"bounces+@mail.shop.example",                                // an empty token
		"bounces+forged@mail.shop.example",                          // a token that does not verify
		"bounces+Rp.2@mail.shop.example",                            // a replies token at the bounces address
		"bounces+AbC.d-1_x@other.example",                           // another domain
		"hello+AbC.d-1_x@mail.shop.example",                         // another local part
		"bounces+AbC.d-1_x@mail.shop.example@evil.example",          // an address with two @
		"bounces+" + strings.Repeat("a", 65) + "@mail.shop.example", // a token too long
		"bounces+a/b@mail.shop.example",                             // a character a token never has
	}
	c := dial(t, addr)
	if err := c.Mail("spammer@example.net", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); code(err) != 550 {
			t.Errorf("RCPT %s: %v, want 550", r, err)
		}
	}
	if _, err := c.Data(); code(err) < 500 {
		t.Errorf("DATA with no recipient: %v, want a refusal", err)
	}
	if len(in.deliveries()) != 0 {
		t.Errorf("deliveries = %+v, want none", in.deliveries())
	}
	if int(refused.Load()) != len(rcpts) {
		t.Errorf("Refused called %d times, want %d", refused.Load(), len(rcpts))
	}
}

func TestAMessageOverMaxSizeIsRefused(t *testing.T) {
	addr, in := start(t, Config{MaxSize: 64 << 10})
	c := dial(t, addr)
	big := "Subject: big\r\n\r\n" + strings.Repeat("x", 76) + "\r\n"
	big = strings.Repeat(big, (100<<10)/len(big))
	if err := send(c, "", "bounces+AbC.d-1_x@mail.shop.example", big); code(err) != 552 {
		t.Errorf("a 100 kB message: %v, want 552", err)
	}
	c = dial(t, addr)
	if err := c.Mail("", &smtp.MailOptions{Size: 20 << 20}); code(err) != 552 {
		t.Errorf("MAIL with SIZE=20MB: %v, want 552", err)
	}
	if len(in.deliveries()) != 0 {
		t.Errorf("deliveries = %d, want none", len(in.deliveries()))
	}
}

func TestAFailureToStoreIsATemporaryRefusal(t *testing.T) {
	addr, in := start(t, Config{})
	in.fail = errors.New("redis down")
	c := dial(t, addr)
	if err := send(c, "", "bounces+AbC.d-1_x@mail.shop.example", "Subject: x\r\n\r\ny\r\n"); code(err) != 451 {
		t.Errorf("send while the receiver fails: %v, want 451", err)
	}
}

func TestNewRefusesAddressesThatAreNotOne(t *testing.T) {
	for _, a := range []string{"bounces", "@mail.shop.example", "bounces+x@mail.shop.example", "a@b@c"} {
		if _, err := New(Config{Verifier: tokens{}, Receiver: &inbox{}, Addresses: []Address{{Bounces, a}}}); err == nil {
			t.Errorf("New accepted %q", a)
		}
	}
}
