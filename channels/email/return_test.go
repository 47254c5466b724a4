package email

import (
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/smtptest"
)

func TestAMessageThatNamesItselfCarriesItsReturnAddresses(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{Return: Return{Bounces: "bounces@mail.shop.example", Replies: "replies@mail.shop.example"}})
	msg := message("anna@example.com")
	msg.Return = &channels.Return{Ref: "AbCdEfGhIjK_LmNo", Bounces: "Yi5BYkNk.sig-1", Replies: "ci5BYkNk.sig-2"}
	send(t, s, msg)
	send(t, s, message("anna@example.com")) // no Return: as before

	msgs := srv.WaitFor(t, 2, 5*time.Second)
	m := msgs[0]
	if m.From != "bounces+Yi5BYkNk.sig-1@mail.shop.example" {
		t.Errorf("envelope sender = %q", m.From)
	}
	if got := m.Header.Get("Reply-To"); !strings.Contains(got, "replies+ci5BYkNk.sig-2@mail.shop.example") {
		t.Errorf("Reply-To = %q", got)
	}
	if got := m.Header.Get("Message-Id"); !strings.HasPrefix(got, "<rAbCdEfGhIjK_LmNo.") || !strings.HasSuffix(got, "@shop.example>") {
		t.Errorf("Message-ID = %q, want it to carry the ref", got)
	}
	if m := msgs[1]; m.From != "hello@shop.example" || m.Header.Get("Reply-To") != "" {
		t.Errorf("a message without Return: sender %q, Reply-To %q", m.From, m.Header.Get("Reply-To"))
	}
}

func TestReturnAddressesMustBePlain(t *testing.T) {
	for _, a := range []string{"bounces", "bounces+x@mail.shop.example", "Bounces <bounces@mail.shop.example>", "@mail.shop.example"} {
		if _, err := NewSMTP(SMTPConfig{Host: "h", From: "a@b.example", Return: Return{Bounces: a}}); err == nil || !strings.Contains(err.Error(), "bounces") {
			t.Errorf("bounces %q: %v, want an error naming bounces", a, err)
		}
	}
}
