package whatsapp_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/whatsapp"
	"github.com/rapporthq/rapport/channels/whatsapp/whatsapptest"
)

func newHooked(t *testing.T) *whatsapp.WhatsApp {
	t.Helper()
	w, err := whatsapp.New(whatsapp.Config{Token: whatsapptest.Token, PhoneNumberID: whatsapptest.PhoneNumberID,
		VerifyToken: "vtok", AppSecret: "appsecret"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestHandshake(t *testing.T) {
	w := newHooked(t)
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"vtok"}, "hub.challenge": {"1158201444"}}
	if c, ok := w.Handshake(q); !ok || c != "1158201444" {
		t.Errorf("Handshake = %q, %v", c, ok)
	}
	q.Set("hub.verify_token", "vto")
	if _, ok := w.Handshake(q); ok {
		t.Error("a wrong verify token passed")
	}
}

func TestSignature(t *testing.T) {
	w := newHooked(t)
	body := []byte(whatsapptest.StatusNotification("wamid.X", "+15551234567", "read"))
	sig := whatsapp.Sign("appsecret", body)
	if !w.CheckSignature(body, sig) {
		t.Error("Meta's signature was refused")
	}
	for _, bad := range []string{"", sig[7:], whatsapp.Sign("other", body), "sha256=zz"} {
		if w.CheckSignature(body, bad) {
			t.Errorf("signature %q passed", bad)
		}
	}
	if w.CheckSignature(append(body, ' '), sig) {
		t.Error("an altered body passed")
	}
}

func TestDecode(t *testing.T) {
	at := time.Unix(1_760_000_000, 0).UTC()
	n, err := whatsapp.Decode([]byte(whatsapptest.MessageNotification("wamid.IN", "+15551234567", "hi there", at)))
	if err != nil || len(n.Messages) != 1 || n.Messages[0].From != "+15551234567" || n.Messages[0].Text != "hi there" || !n.Messages[0].At.Equal(at) {
		t.Fatalf("Decode message = %+v, %v", n, err)
	}
	n, err = whatsapp.Decode([]byte(whatsapptest.FailedNotification("wamid.F", "+15551234567", 131026, "Message undeliverable")))
	if err != nil || len(n.Statuses) != 1 || !n.Statuses[0].Permanent() {
		t.Fatalf("Decode failed = %+v, %v", n, err)
	}
	n, err = whatsapp.Decode([]byte(whatsapptest.FailedNotification("wamid.F", "+15551234567", 130429, "Rate limit hit")))
	if err != nil || n.Statuses[0].Permanent() {
		t.Fatalf("a rate limit is permanent: %+v, %v", n, err)
	}
	if _, err := whatsapp.Decode([]byte(`{"object":"page"}`)); err == nil {
		t.Error("another object was read")
	}
}
