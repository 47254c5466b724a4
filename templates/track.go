package templates

import (
	"html"
	htmltemplate "html/template"
	"regexp"
	"strings"
)

// noTrack marks a URL that `notrack` let through; rendering removes it again.
const noTrack = "rapport-notrack:"

// notrack returns an http(s) URL marked so that click tracking leaves it alone:
// {{ notrack "https://shop.example/orders" }}. Anything else is returned as it is, for
// html/template to check like any URL.
func notrack(u string) any {
	l := strings.ToLower(strings.TrimSpace(u))
	if !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") {
		return u
	}
	return htmltemplate.URL(noTrack + strings.TrimSpace(u))
}

var (
	hrefAttr = regexp.MustCompile(`(?i)(<a\b[^>]*?\bhref\s*=\s*")([^"]*)(")`)
	textURL  = regexp.MustCompile(`(` + noTrack + `)?https?://[^\s<>"')\]]+`)
)

// track rewrites the links of r with t: the href of each <a> of its HTML, and each
// http(s) URL of its text. Links that `notrack` marked are left alone, and lose their
// mark; with t nil only the marks go.
func track(r *Rendered, t func(string) string) {
	if t == nil && !strings.Contains(r.HTML+r.Text, noTrack) {
		return
	}
	if r.HTML != "" {
		r.HTML = hrefAttr.ReplaceAllStringFunc(r.HTML, func(m string) string {
			p := hrefAttr.FindStringSubmatch(m)
			u := html.UnescapeString(p[2])
			switch {
			case strings.HasPrefix(u, noTrack):
				u = strings.TrimPrefix(u, noTrack)
			case t != nil && (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")):
				u = t(u)
			}
			return p[1] + html.EscapeString(u) + p[3]
		})
		r.HTML = strings.ReplaceAll(r.HTML, noTrack, "") // a marked URL outside an href
	}
	r.Text = textURL.ReplaceAllStringFunc(r.Text, func(u string) string {
		if strings.HasPrefix(u, noTrack) {
			return strings.TrimPrefix(u, noTrack)
		}
		if t == nil {
			return u
		}
		// A sentence's full stop or comma after a URL is not part of it.
		trail := ""
		for len(u) > 0 && strings.ContainsRune(".,;:!?", rune(u[len(u)-1])) {
			trail, u = u[len(u)-1:]+trail, u[:len(u)-1]
		}
		return t(u) + trail
	})
}
