package templates

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var shipped = []string{"thank-you", "review-request", "usage-tip-coffee", "usage-tip-tea", "usage-tip-general",
	"birthday", "cart-reminder", "cart-last-chance", "win-back", "win-back-last",
	"nps-survey", "detractor-apology", "detractor-task", "promoter-thanks", "reply-task", "tier-welcome"}

func sample(locale string) Data {
	return Data{
		Customer: map[string]any{"first_name": "Anna <b>&", "locale": locale, "email": "anna@example.com",
			"last_order_at": time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC), "birthday_code": "HB-ANNA"},
		Event: map[string]any{"id": "evt-1", "type": "order.placed", "customer_id": "c-42",
			"occurred_at": time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
			"data": map[string]any{"order_id": "A-1001", "total": 59.9, "cart_url": "https://shop.example/cart",
				"items": []any{map[string]any{"name": "Ethiopia Guji", "category": "coffee", "price": 19.9, "url": "https://shop.example/p/guji"}}}},
		Journey:        Journey{ID: "j", Name: "J"},
		Now:            time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		UnsubscribeURL: "https://rapport.example/unsubscribe/TOKEN",
		FeedbackURL:    "https://rapport.example/feedback/FTOKEN",
	}
}

func TestEveryShippedTemplateRendersInBothLocales(t *testing.T) {
	set, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Names(), ","); got != strings.Join(sortedCopy(shipped), ",") {
		t.Fatalf("shipped templates = %s", got)
	}
	for _, name := range shipped {
		for _, locale := range []string{"en", "ru"} {
			t.Run(name+" in "+locale, func(t *testing.T) {
				email, err := set.Render(name, channels.KindEmail, locale, sample(locale))
				if err != nil {
					t.Fatal(err)
				}
				msg, err := set.Render(name, channels.KindMsg, locale, sample(locale))
				if err != nil {
					t.Fatal(err)
				}
				all := email.Subject + email.HTML + email.Text + msg.Text
				if strings.Contains(all, "no value") || strings.Contains(all, "<nil>") || strings.Contains(all, "%!") {
					t.Errorf("a value is missing:\n%s", all)
				}
				if email.Subject == "" || email.Text == "" || msg.Text == "" {
					t.Errorf("empty subject, text part or message: %+v / %q", email, msg.Text)
				}
				if strings.Contains(email.HTML, "Anna <b>") || !strings.Contains(email.HTML, "Anna &lt;b&gt;&amp;") {
					t.Error("the HTML does not carry the escaped name")
				}
				if !strings.Contains(email.Text+msg.Text, "Anna <b>&") && !strings.Contains(email.Subject, "Anna <b>&") {
					t.Error("the text parts lack the plain name")
				}
				if !strings.Contains(email.HTML, `href="https://rapport.example/unsubscribe/TOKEN"`) || !strings.Contains(email.Text, "https://rapport.example/unsubscribe/TOKEN") {
					t.Error("the email lacks the unsubscribe link in HTML or text")
				}
				cyrillic := strings.ContainsAny(email.HTML+msg.Text, "абвгдеёжзийклмнопрстуфхцчшщыэюя")
				if cyrillic != (locale == "ru") {
					t.Errorf("Cyrillic in the %s version: %v", locale, cyrillic)
				}
			})
		}
	}
}

func TestShippedTemplatesNameWhatWasBought(t *testing.T) {
	set, _ := Load(".")
	for _, name := range []string{"thank-you", "review-request", "cart-reminder", "cart-last-chance"} {
		for _, kind := range []channels.Kind{channels.KindEmail, channels.KindMsg} {
			r, err := set.Render(name, kind, "en", sample("en"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.HTML+r.Text, "Ethiopia Guji") && !strings.Contains(r.HTML+r.Text, "guji") {
				t.Errorf("%s (%s) does not name the item", name, kind)
			}
		}
	}
	r, _ := set.Render("birthday", channels.KindEmail, "en", sample("en"))
	if !strings.Contains(r.HTML, "HB-ANNA") {
		t.Error("birthday does not offer the customer's code")
	}
	r, _ = set.Render("win-back", channels.KindEmail, "en", sample("en"))
	if !strings.Contains(r.HTML, "1 September 2026") {
		t.Error("win-back does not mention the last order date")
	}
}

func TestGoldenThankYou(t *testing.T) {
	set, _ := Load(".")
	for _, locale := range []string{"en", "ru"} {
		r, err := set.Render("thank-you", channels.KindEmail, locale, sample(locale))
		if err != nil {
			t.Fatal(err)
		}
		got := "Subject: " + r.Subject + "\nPreheader: " + r.Preheader + "\n\n" + r.HTML + "\n--- text ---\n" + r.Text + "\n"
		path := filepath.Join("testdata", "golden", "thank-you."+locale+".golden")
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			os.WriteFile(path, []byte(got), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./templates -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("thank-you (%s) differs from %s; run with -update if intended:\n%s", locale, path, got)
		}
	}
}

func TestBrokenTemplatesAreAllReportedWithTheirLines(t *testing.T) {
	_, err := Load("testdata/broken")
	if err == nil {
		t.Fatal("broken templates loaded")
	}
	for _, want := range []string{
		"testdata/broken/bad-body.email.html:5: ",
		"testdata/broken/no-subject.email.html:1: the front matter has no subject",
		`testdata/broken/extra-key.email.html:3: unknown key "colour"`,
		"testdata/broken/bad.msg.txt:1: ",
		"testdata/broken/orphan.ru.*: locale variant ru has no plain orphan",
		"testdata/broken/_sig.email.html:2: ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q; got:\n%s", want, err)
		}
	}
}

func TestLocaleFallbackAndDerivedText(t *testing.T) {
	set, err := Load("testdata/ok")
	if err != nil {
		t.Fatal(err)
	}
	for locale, want := range map[string]string{"ru-RU": "Русский", "ru": "Русский", "de": "Plain", "": "Plain"} {
		r, err := set.Render("greet", channels.KindEmail, locale, Data{Customer: map[string]any{"first_name": "A"}})
		if err != nil || !strings.HasPrefix(r.Subject, want) {
			t.Errorf("locale %q: subject %q, %v; want %s...", locale, r.Subject, err, want)
		}
	}
	r, _ := set.Render("greet", channels.KindEmail, "en", Data{Customer: map[string]any{"first_name": "A"}})
	if want := "Plain the link (https://x.example/a?b=1&c=2) & more\n\n- one\n- two"; r.Text != want {
		t.Errorf("derived text = %q, want %q", r.Text, want)
	}
	m, _ := set.Render("greet", channels.KindMsg, "ru", Data{Customer: map[string]any{"first_name": "A"}})
	if m.Text != "Plain msg A \n" {
		t.Errorf("msg with a missing attribute = %q", m.Text)
	}
	if !set.Has("greet", channels.KindEmail) || !set.Has("greet", channels.KindMsg) || set.Has("nope", channels.KindEmail) {
		t.Error("Has answers wrongly")
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestShippedTemplatesRenderForACustomerWeKnowLittleAbout(t *testing.T) {
	set, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	bare := Data{Customer: map[string]any{"email": "x@example.com"}, Event: map[string]any{"type": "date", "data": map[string]any{}}}
	for _, name := range shipped {
		for _, locale := range []string{"en", "ru"} {
			for _, kind := range []channels.Kind{channels.KindEmail, channels.KindMsg} {
				r, err := set.Render(name, kind, locale, bare)
				if err != nil {
					t.Errorf("%s (%s, %s): %v", name, locale, kind, err)
					continue
				}
				if all := r.Subject + r.HTML + r.Text; strings.Contains(all, "no value") || strings.Contains(all, "<nil>") || strings.Contains(all, "%!") {
					t.Errorf("%s (%s, %s) shows a missing value:\n%s", name, locale, kind, all)
				}
			}
		}
	}
}

func TestAGivenPlainTextPartIsUsedAsWritten(t *testing.T) {
	set, err := Load("testdata/ok")
	if err != nil {
		t.Fatal(err)
	}
	r, err := set.Render("given", channels.KindEmail, "en", Data{Customer: map[string]any{"first_name": "Ann"}})
	if err != nil || r.Text != "Plain text written by hand for Ann.\n" || !strings.Contains(r.HTML, "HTML for Ann") {
		t.Fatalf("rendered %+v, %v", r, err)
	}
}
