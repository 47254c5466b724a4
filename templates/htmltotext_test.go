package templates

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
)

// The seven regular expressions HTMLToText was made of until it became one pass.
var (
	linkRE    = regexp.MustCompile(`(?is)<a\s[^>]*href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>`)
	blockRE   = regexp.MustCompile(`(?i)</?(p|div|h[1-6]|ul|ol|table|tr|blockquote)\b[^>]*>|<br\s*/?>`)
	liRE      = regexp.MustCompile(`(?i)<li\b[^>]*>`)
	dropRE    = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)>|<!--.*?-->`)
	tagRE     = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE   = regexp.MustCompile(`[ \t\r\f\v]+`)
	newlineRE = regexp.MustCompile(`\n\s*\n\s*(\n\s*)+`)
)

// regexpHTMLToText is how HTMLToText worked until it became one pass. HTMLToText must
// give the same text.
func regexpHTMLToText(s string) string {
	s = dropRE.ReplaceAllString(s, "")
	s = linkRE.ReplaceAllStringFunc(s, func(a string) string {
		m := linkRE.FindStringSubmatch(a)
		text := strings.TrimSpace(tagRE.ReplaceAllString(m[2], ""))
		href := html.UnescapeString(m[1])
		if text == "" || html.UnescapeString(text) == href {
			return href
		}
		return text + " (" + href + ")"
	})
	s = spaceRE.ReplaceAllString(strings.ReplaceAll(s, "\n", " "), " ")
	s = liRE.ReplaceAllString(s, "\n- ")
	s = blockRE.ReplaceAllString(s, "\n")
	s = tagRE.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	s = strings.Join(lines, "\n")
	s = newlineRE.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}

// htmlCases are the shapes of HTML marketers write, and the odd corners of each rule.
var htmlCases = []string{
	"",
	"plain text, no tags",
	"<p>Hi Anna,</p><p>thanks.</p>",
	"<P CLASS='x'>upper case</P><DIV>div</DIV><H2>title</H2><BLOCKQUOTE>q</BLOCKQUOTE>",
	"a<br>b<br/>c<br />d<BR>e<br\n/>f<br class=\"x\">g</br>h",
	"<ul><li>one</li><li class=\"x\">two</li>\n<LI>three</ul><ol><li> spaced </li></ol>",
	"<link rel=x><list>no</list><pre>pre</pre><p_x>under</p_x><h1x>no</h1x><h7>h7</h7><p-x>dash</p-x>",
	`<a href="https://x.example/a?b=1&amp;c=2">the link</a> &amp; more`,
	`<a href='https://x.example'>https://x.example</a> and <a href="https://y.example"> </a>`,
	`<a class="btn" href="https://x.example/u" style="color:red"><strong>Shop</strong> now</a>`,
	`<A HREF="https://x.example">Upper</A> <a data-href="no" href="yes">last wins</a>`,
	`<a  href = "https://x.example" >spaced</a><a href="https://x.example/&amp;x">entity</a>`,
	`<a name="top">no href</a> <a href="u">no close`,
	`<a href="x>y">gt in value</a>`,
	"<a\nhref=\"https://x.example\">\n  new\n  lines\n</a>",
	"<style>p{color:red}</style><p>styled</p><SCRIPT type=x>alert(1)</SCRIPT><head><title>t</title></head>body",
	"<header>kept</header><styles>x</styles><scripts>y</scripts>",
	"<style>unclosed <p>after",
	"a <!-- comment --> b <!--unclosed comment> c",
	"a <span>x</span> b and a<span> </span>b and a <!-- c --> b",
	"1 < 2 and 3 > 2; a lone < without end",
	"&nbsp;&amp;&lt;b&gt;&#39;&quot; &copy; &unknown; &#10;line",
	"\u00a0 nbsp line \u00a0\n\n\n\n<p></p><p></p><p></p>end",
	"tabs\tand\r\nCRLF\fform\vvertical",
	"<table><tr><td>cell</td><td>cell</td></tr><tr><td>row</td></tr></table>",
	"<p>Привет, Анна!</p><p>Заказ <strong>A-1</strong> — в пути.</p>",
	"<div>\n\n\n<p>deep</p>\n\n</div>\n\n\n<div>down</div>",
}

func TestHTMLToTextGivesWhatTheRegularExpressionsGave(t *testing.T) {
	for _, in := range htmlCases {
		if got, want := HTMLToText(in), regexpHTMLToText(in); got != want {
			t.Errorf("HTMLToText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// The one departure: a link whose address holds an escaped tag. The regular expressions
// decoded it, then took it for a tag.
func TestHTMLToTextKeepsATagInALinkAddressAsText(t *testing.T) {
	in := `<a href="https://x.example/&lt;p&gt;">entity</a>`
	if got, want := HTMLToText(in), "entity (https://x.example/<p>)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHTMLToTextGivesWhatTheRegularExpressionsGaveForEveryShippedEmail(t *testing.T) {
	set, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	bare := Data{Customer: map[string]any{"email": "x@example.com"}, Event: map[string]any{"type": "date", "data": map[string]any{}}}
	for _, name := range shipped {
		for _, locale := range []string{"en", "ru"} {
			for _, data := range []Data{sample(locale), bare} {
				v := set.pick(name, channels.KindEmail, locale)
				r, err := set.Render(name, channels.KindEmail, locale, data)
				if err != nil {
					t.Fatal(err)
				}
				for _, in := range []string{r.HTML, renderBody(t, v, data)} {
					if got, want := HTMLToText(in), regexpHTMLToText(in); got != want {
						t.Errorf("%s (%s): got\n%s\nwant\n%s", name, locale, got, want)
					}
				}
			}
		}
	}
}

// renderBody renders an email's body without the layout, as the text part is derived.
func renderBody(t *testing.T, v *variant, data Data) string {
	var b strings.Builder
	if err := v.html.Execute(&b, dataMap(data)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func BenchmarkHTMLToText(b *testing.B) {
	set, err := Load(".")
	if err != nil {
		b.Fatal(err)
	}
	v := set.pick("thank-you", channels.KindEmail, "en")
	var body strings.Builder
	if err := v.html.Execute(&body, dataMap(sample("en"))); err != nil {
		b.Fatal(err)
	}
	in := body.String()
	b.Run("one pass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			HTMLToText(in)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			regexpHTMLToText(in)
		}
	})
}

// BenchmarkRender renders the shipped thank-you email, layout and derived text part
// included, as the engine does for every message.
//
//	go test -run '^$' -bench Render -benchmem ./templates/
func BenchmarkRender(b *testing.B) {
	set, err := Load(".")
	if err != nil {
		b.Fatal(err)
	}
	data := sample("en")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Render("thank-you", channels.KindEmail, "en", data); err != nil {
			b.Fatal(err)
		}
	}
}
