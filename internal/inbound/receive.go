package inbound

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/rapporthq/rapport/internal/inbound/mailparse"
	"github.com/rapporthq/rapport/internal/inbound/smtpd"
	"github.com/rapporthq/rapport/internal/store"
)

// SMTP adapts the Listener to the inbound SMTP server: it verifies the TOKENs of
// return addresses and receives what is sent to them.
func (l *Listener) SMTP() interface {
	smtpd.TokenVerifier
	smtpd.Receiver
} {
	return smtpAdapter{l}
}

type smtpAdapter struct{ l *Listener }

func kindLetter(k smtpd.Kind) string {
	if k == smtpd.Replies {
		return Replies
	}
	return Bounces
}

// VerifyToken checks the signature only; it touches no state.
func (a smtpAdapter) VerifyToken(kind smtpd.Kind, token string) error {
	_, err := a.l.verifyToken(kindLetter(kind), token)
	return err
}

// Receive applies one message sent to a return address.
func (a smtpAdapter) Receive(ctx context.Context, d smtpd.Delivery) error {
	return a.l.Receive(ctx, kindLetter(d.Kind), d.Token, d.From, d.Data)
}

// Receive applies one message sent to a return address of kind (Bounces or Replies)
// with TOKEN token, from the envelope sender from ("" for the null sender). A message
// that changes nothing (an unknown message, no report, an automatic answer, a reply
// with no text) is counted rejected and is no error; an error is a failure to store,
// worth trying again.
func (l *Listener) Receive(ctx context.Context, kind, token, from string, data []byte) error {
	id, err := l.verifyToken(kind, token)
	if err != nil {
		l.reject("", "the return address's token does not verify")
		return nil
	}
	ref, err := l.cfg.Store.LoadRef(ctx, id)
	if errors.Is(err, store.ErrUnknownRef) {
		l.reject("", "no message is known by this return address (any more)")
		return nil
	}
	if err != nil {
		return err
	}
	m, err := mailparse.Parse(bytes.NewReader(data))
	if err != nil {
		l.reject(ref.Channel, err.Error())
		return nil
	}
	if kind == Replies {
		return l.reply(ctx, &ref, from, m)
	}
	switch {
	case m.DSN != nil:
		applied := false
		for _, r := range m.DSN.Recipients {
			f := feedback{channel: ref.Channel, ref: &ref, address: r.Address(), status: r.Status, diagnostic: r.Diagnostic}
			switch r.Kind() {
			case mailparse.Hard:
				f.kind = KindBounceHard
			case mailparse.Soft:
				f.kind = KindBounceSoft
			default:
				if r.Action != "delivered" {
					continue
				}
				f.kind = KindDelivered
			}
			// One DSN per message and status is one report, however often it comes;
			// delays are told apart by the DSN's own Message-ID, each one counting.
			f.id = digest("dsn", id, f.kind, r.Status, r.Address())
			if f.kind == KindBounceSoft {
				f.id = digest("dsn", id, f.kind, r.Status, r.Address(), m.MessageID)
			}
			if err := l.apply(ctx, f); err != nil {
				return err
			}
			applied = true
		}
		if !applied {
			l.reject(ref.Channel, "a DSN that reports no failure")
		}
		return nil
	case m.Feedback != nil:
		if m.Feedback.Type == "not-spam" {
			l.reject(ref.Channel, "a not-spam feedback report")
			return nil
		}
		addr := ""
		if len(m.Feedback.OriginalRcptTo) > 0 && !strings.Contains(strings.ToLower(m.Feedback.OriginalRcptTo[0]), "redacted") {
			addr = m.Feedback.OriginalRcptTo[0]
		}
		return l.apply(ctx, feedback{id: digest("arf", id), channel: ref.Channel, kind: KindComplaint, ref: &ref, address: addr})
	}
	l.reject(ref.Channel, "neither a DSN nor a feedback report")
	return nil
}

// reply raises message.replied for a customer's own answer; an automatic one, or one
// with no text, changes nothing.
func (l *Listener) reply(ctx context.Context, ref *store.Ref, from string, m *mailparse.Message) error {
	switch {
	case from == "" || m.Automatic:
		l.reject(ref.Channel, "an automatic answer")
		return nil
	case m.Text == "":
		l.reject(ref.Channel, "a reply with no text")
		return nil
	}
	key := m.MessageID
	if key == "" {
		key = m.Text
	}
	return l.apply(ctx, feedback{id: digest("reply", ref.CustomerID, ref.MessageID, key), channel: ref.Channel,
		kind: KindReply, ref: ref, text: m.Text, subject: m.Subject})
}
