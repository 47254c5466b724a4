package whatsapp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/whatsapp"
	"github.com/rapporthq/rapport/channels/whatsapp/whatsapptest"
)

func newChannel(t testing.TB, url string) *whatsapp.WhatsApp {
	t.Helper()
	w, err := whatsapp.New(whatsapp.Config{Token: whatsapptest.Token, PhoneNumberID: whatsapptest.PhoneNumberID, APIURL: url})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

const anna = "+15550100042"

func TestATextIsDeliveredWithItsWamid(t *testing.T) {
	srv := whatsapptest.Start(t)
	w := newChannel(t, srv.URL)
	r, err := w.Send(context.Background(), channels.Message{To: "+1 (555) 010-0042", Text: "Hi Anna! Order A-1001 ships today."})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].To != anna || got[0].Type != "text" || got[0].Text != "Hi Anna! Order A-1001 ships today." {
		t.Fatalf("server got %+v", got)
	}
	if r.ProviderID != got[0].ID || !strings.HasPrefix(r.ProviderID, "wamid.") {
		t.Fatalf("provider id %q, want %q", r.ProviderID, got[0].ID)
	}
}

func TestTheTemplateFromTheFrontMatterIsSentInsteadOfTheText(t *testing.T) {
	srv := whatsapptest.Start(t)
	w := newChannel(t, srv.URL)
	m := channels.Message{To: anna, Text: "Thank you, Anna!",
		WhatsApp: &channels.WhatsAppTemplate{Name: "order_thanks", Language: "en", Params: []string{"Anna", "A-1001"}}}
	if _, err := w.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].Type != "template" || got[0].Template != "order_thanks" || got[0].Language != "en" ||
		!slices.Equal(got[0].Params, []string{"Anna", "A-1001"}) || got[0].Text != "" {
		t.Fatalf("server got %+v", got)
	}
}

func TestEachErrorCodeBecomesTheErrorKindThatSaysWhatToDoNext(t *testing.T) {
	tests := []struct {
		name          string
		reply         whatsapptest.Reply
		temporary     bool
		unreachable   bool
		needsTemplate bool
	}{
		{"the throughput limit is retried", whatsapptest.RateLimit, true, false, false},
		{"the pair rate limit is retried", whatsapptest.PairRateLimit, true, false, false},
		{"the spam rate limit is retried", whatsapptest.SpamRateLimit, true, false, false},
		{"a service outage is retried", whatsapptest.ServiceUnavailable, true, false, false},
		{"something went wrong is retried", whatsapptest.Internal, true, false, false},
		{"an undeliverable number is unreachable", whatsapptest.Undeliverable, false, true, false},
		{"outside the 24-hour window needs a template", whatsapptest.ReEngagement, false, false, true},
		{"a missing template is permanent", whatsapptest.TemplateMissing, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := whatsapptest.Start(t)
			w := newChannel(t, srv.URL)
			srv.Script(anna, tc.reply)
			_, err := w.Send(context.Background(), channels.Message{To: anna, Text: "hello"})
			var temp *channels.TemporaryError
			var unr *channels.UnreachableError
			if err == nil || errors.As(err, &temp) != tc.temporary || errors.As(err, &unr) != tc.unreachable ||
				errors.Is(err, whatsapp.ErrNeedsTemplate) != tc.needsTemplate {
				t.Fatalf("error %v: temporary %v unreachable %v template %v", err, errors.As(err, &temp), errors.As(err, &unr), errors.Is(err, whatsapp.ErrNeedsTemplate))
			}
			var api *whatsapp.Error
			if !errors.As(err, &api) || api.Code == 0 || api.Status != tc.reply.Status {
				t.Fatalf("error %v carries no *whatsapp.Error with its code", err)
			}
			if tc.needsTemplate && !strings.HasPrefix(err.Error(), "outside the 24-hour window: needs a WhatsApp template") {
				t.Fatalf("recorded text %q", err)
			}
		})
	}
}

func TestA5xxThenSuccessDeliversOnce(t *testing.T) {
	srv := whatsapptest.Start(t)
	w := newChannel(t, srv.URL)
	srv.Script(anna, whatsapptest.ServiceUnavailable)
	if _, err := w.Send(context.Background(), channels.Message{To: anna, Text: "hello"}); !channels.IsTemporary(err) {
		t.Fatalf("first: %v", err)
	}
	if _, err := w.Send(context.Background(), channels.Message{To: anna, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages()) != 1 || srv.Requests() != 2 {
		t.Fatalf("%d messages in %d requests", len(srv.Messages()), srv.Requests())
	}
}

func TestANumberThatIsNotE164IsUnreachableWithoutARequest(t *testing.T) {
	srv := whatsapptest.Start(t)
	w := newChannel(t, srv.URL)
	for _, phone := range []string{"", "5550100042", "+0123456789", "+1555abc0042", "+1234567890123456"} {
		_, err := w.Send(context.Background(), channels.Message{To: phone, Text: "hello"})
		var unr *channels.UnreachableError
		if !errors.As(err, &unr) {
			t.Errorf("phone %q: %v, want unreachable", phone, err)
		}
	}
	if srv.Requests() != 0 {
		t.Fatalf("%d requests for bad numbers", srv.Requests())
	}
}

func TestTheCheckAsksForThePhoneNumberID(t *testing.T) {
	srv := whatsapptest.Start(t)
	if err := newChannel(t, srv.URL).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	wrong, err := whatsapp.New(whatsapp.Config{Token: "nope", PhoneNumberID: whatsapptest.PhoneNumberID, APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "access token was refused") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := wrong.Send(context.Background(), channels.Message{To: anna, Text: "hi"}); err == nil || channels.IsTemporary(err) {
		t.Fatalf("send with a wrong token: %v, want permanent", err)
	}
	other, err := whatsapp.New(whatsapp.Config{Token: whatsapptest.Token, PhoneNumberID: "999", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "phone_number_id") {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestTheConfigIsChecked(t *testing.T) {
	_, err := whatsapp.New(whatsapp.Config{PhoneNumberID: "+1555", APIURL: "graph.facebook.com"})
	for _, want := range []string{"token is required", "phone_number_id", "api_url"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
