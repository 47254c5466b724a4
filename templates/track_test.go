package templates

import (
	htmltemplate "html/template"
	"strings"
	"testing"
	texttemplate "text/template"
)

func TestLinksAreTrackedExceptThoseLeftAlone(t *testing.T) {
	page := htmltemplate.Must(htmltemplate.New("p").Funcs(htmlFuncs).Parse(
		`<a href="https://shop.example/p?a=1&b=2">shop</a> <a class="x" href="{{ notrack "https://shop.example/help" }}">help</a> <a href="mailto:hi@shop.example">mail</a> <a href="{{ notrack "javascript:alert(1)" }}">bad</a>`))
	var b strings.Builder
	if err := page.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	text := texttemplate.Must(texttemplate.New("t").Funcs(textFuncs).Parse(
		`See https://shop.example/p?a=1&b=2, or {{ notrack "https://shop.example/help" }}.`))
	var tb strings.Builder
	if err := text.Execute(&tb, nil); err != nil {
		t.Fatal(err)
	}
	var seen []string
	r := Rendered{HTML: b.String(), Text: tb.String()}
	track(&r, func(u string) string {
		seen = append(seen, u)
		return "https://r.example/c/T" + string(rune('0'+len(seen)))
	})
	wantHTML := `<a href="https://r.example/c/T1">shop</a> <a class="x" href="https://shop.example/help">help</a> <a href="mailto:hi@shop.example">mail</a> <a href="#ZgotmplZ">bad</a>`
	if r.HTML != wantHTML {
		t.Errorf("HTML =\n%s\nwant\n%s", r.HTML, wantHTML)
	}
	if want := "See https://r.example/c/T2, or https://shop.example/help."; r.Text != want {
		t.Errorf("Text = %q, want %q", r.Text, want)
	}
	if len(seen) != 2 || seen[0] != "https://shop.example/p?a=1&b=2" || seen[1] != "https://shop.example/p?a=1&b=2" {
		t.Errorf("tracked %q, want the shop link twice, unescaped", seen)
	}

	r = Rendered{HTML: b.String(), Text: tb.String()}
	track(&r, nil)
	if strings.Contains(r.HTML+r.Text, noTrack) || !strings.Contains(r.HTML, `href="https://shop.example/p?a=1&amp;b=2"`) {
		t.Errorf("without tracking: %s / %s", r.HTML, r.Text)
	}
}
