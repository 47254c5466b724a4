package templates

import (
	"slices"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
)

func TestTheWhatsAppTemplateInTheFrontMatterIsRenderedForEveryMessengerKind(t *testing.T) {
	set, err := Load("testdata/whatsapp")
	if err != nil {
		t.Fatal(err)
	}
	data := Data{Customer: map[string]any{"first_name": "Anna"}, Event: map[string]any{"data": map[string]any{"order_id": "A-1001"}}}
	for _, tc := range []struct{ locale, language, text string }{
		{"en", "en", "Thank you, Anna! Order A-1001 is confirmed.\n"},
		{"ru", "ru", "Спасибо, Anna! Заказ A-1001 подтверждён.\n"},
	} {
		r, err := set.Render("order-thanks", channels.KindMsg, tc.locale, data)
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != tc.text {
			t.Errorf("%s text %q, want %q", tc.locale, r.Text, tc.text)
		}
		w := r.WhatsApp
		if w == nil || w.Name != "order_thanks" || w.Language != tc.language || !slices.Equal(w.Params, []string{"Anna", "A-1001"}) {
			t.Errorf("%s whatsapp template %+v", tc.locale, w)
		}
	}
	r, err := set.Render("plain", channels.KindMsg, "en", data)
	if err != nil || r.WhatsApp != nil || r.Text != "Hi Anna\n" {
		t.Fatalf("a template without front matter: %+v, %v", r, err)
	}
}

func TestBrokenWhatsAppFrontMatterIsReportedAtItsLine(t *testing.T) {
	_, err := Load("testdata/whatsapp-broken")
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		"testdata/whatsapp-broken/no-language.msg.txt:2: whatsapp needs the approved template's name and language",
		`testdata/whatsapp-broken/extra-key.msg.txt:3: unknown key "subject"`,
		"testdata/whatsapp-broken/bad-param.msg.txt:2: whatsapp.params[0]: ",
		"testdata/whatsapp-broken/bad-body.msg.txt:5: ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q; got:\n%s", want, err)
		}
	}
}
