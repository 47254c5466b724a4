package templates

import (
	"fmt"
	"html"
	htmltemplate "html/template"
	"reflect"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
)

// Funcs are the functions every template may call:
//
//	default X V   V, or X when V is missing or empty:  {{ .customer.first_name | default "friend" }}
//	money V       a number with two decimals:          {{ money .event.data.total }} -> 59.90
//	date L V      a time (or RFC 3339 / YYYY-MM-DD text) in Go layout L: {{ date "2 Jan 2006" .customer.last_order_at }}
//	join S LIST   the items of LIST joined by S
//	lower, upper  change case
//	first N LIST  the first N items of LIST
//	notrack URL   URL, left alone by click tracking:   <a href="{{ notrack "https://shop.example/help" }}">
var Funcs = map[string]any{
	"notrack": notrack,
	"default": defaultValue,
	"money":   money,
	"date":    formatDate,
	"join":    join,
	"lower":   strings.ToLower,
	"upper":   strings.ToUpper,
	"first":   first,
}

var (
	htmlFuncs = htmltemplate.FuncMap(Funcs)
	textFuncs = texttemplate.FuncMap(Funcs)
)

func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return false
}

func defaultValue(def any, v ...any) any {
	if len(v) == 0 || empty(v[0]) {
		return def
	}
	return v[0]
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

func money(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return ""
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func formatDate(layout string, v any) string {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.Format(layout)
	case string:
		for _, l := range []string{time.RFC3339, "2006-01-02"} {
			if p, err := time.Parse(l, t); err == nil {
				return p.Format(layout)
			}
		}
		return t
	}
	return ""
}

func join(sep string, v any) string {
	r := reflect.ValueOf(v)
	if v == nil || (r.Kind() != reflect.Slice && r.Kind() != reflect.Array) {
		return ""
	}
	parts := make([]string, r.Len())
	for i := range parts {
		parts[i] = fmt.Sprint(r.Index(i).Interface())
	}
	return strings.Join(parts, sep)
}

func first(n int, v any) []any {
	r := reflect.ValueOf(v)
	if v == nil || (r.Kind() != reflect.Slice && r.Kind() != reflect.Array) {
		return nil
	}
	if r.Len() < n {
		n = r.Len()
	}
	out := make([]any, n)
	for i := range out {
		out[i] = r.Index(i).Interface()
	}
	return out
}

// HTMLToText derives a plain-text part from an email's HTML: tags go, paragraphs and line
// breaks become new lines, list items get a dash, links keep their target as "text (url)",
// and entities are decoded. Comments and style, script and head elements go with their
// content.
//
// It is one pass over the HTML, then one over the text: it runs for every email whose
// template has no plain-text part, so it stays clear of regular expressions. It gives
// what the regular expressions of earlier versions gave (htmltotext_test.go keeps them
// and compares).
func HTMLToText(s string) string {
	b := textBuilder{out: make([]byte, 0, len(s)/2)}
	for i := 0; i < len(s); {
		if s[i] != '<' {
			b.char(s[i])
			i++
			continue
		}
		if end := droppedEnd(s, i); end > 0 {
			i = end // gone before spaces collapse: the spaces around it meet
			continue
		}
		if end := b.link(s, i); end > 0 {
			i = end
			continue
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			b.char('<') // a lone '<' is text
			i++
			continue
		}
		b.tag(s[i : i+j+1])
		i += j + 1
	}
	return tidyLines(html.UnescapeString(string(b.out)))
}

// textBuilder collects text, each run of white space in the source as one space. A tag
// ends a run: the space before it and the one after it both stay.
type textBuilder struct {
	out   []byte
	space bool // the last byte written ends a run of white space
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

func (b *textBuilder) char(c byte) {
	if isSpace(c) {
		if !b.space {
			b.out = append(b.out, ' ')
			b.space = true
		}
		return
	}
	b.out = append(b.out, c)
	b.space = false
}

func (b *textBuilder) text(s string) {
	for i := 0; i < len(s); i++ {
		b.char(s[i])
	}
}

// tag writes what a tag becomes: a list item a new line and a dash, a block element or
// a line break a new line, anything else nothing.
func (b *textBuilder) tag(t string) {
	b.space = false
	switch name, closing := tagName(t); {
	case name == "li" && !closing:
		b.out = append(b.out, "\n- "...)
	case blockElements[name]:
		b.out = append(b.out, '\n')
	case name == "br" && !closing && isBreak(t):
		b.out = append(b.out, '\n')
	}
}

var blockElements = map[string]bool{"p": true, "div": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "ul": true, "ol": true, "table": true, "tr": true, "blockquote": true}

// tagName returns the lower-cased name of tag t ("<p class=x>" -> "p") and whether it
// closes ("</p>"). The name ends at the first byte that is not a letter or digit; an
// underscore there makes it no name at all, as \b would have it.
func tagName(t string) (string, bool) {
	i := 1
	closing := i < len(t) && t[i] == '/'
	if closing {
		i++
	}
	j := i
	for j < len(t) && isAlnum(t[j]) {
		j++
	}
	if j < len(t) && t[j] == '_' {
		return "", closing
	}
	return strings.ToLower(t[i:j]), closing
}

// isBreak reports whether t is exactly <br>, <br/> or <br />, spaces allowed.
func isBreak(t string) bool {
	rest := strings.TrimLeft(t[3:len(t)-1], " \t\n\r\f")
	return rest == "" || rest == "/"
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// droppedEnd returns where a comment, or a style, script or head element that starts at
// s[i], ends; 0 when none starts there or it is not closed.
func droppedEnd(s string, i int) int {
	if strings.HasPrefix(s[i:], "<!--") {
		if j := strings.Index(s[i+4:], "-->"); j >= 0 {
			return i + 4 + j + 3
		}
		return 0
	}
	name, closing := tagName(s[i:min(len(s), i+8)])
	if closing || (name != "style" && name != "script" && name != "head") {
		return 0
	}
	// The element ends at the first closing tag of any of the three, as it always did.
	best := -1
	for _, end := range []string{"</style>", "</script>", "</head>"} {
		if j := indexFold(s[i+1:], end); j >= 0 && (best < 0 || j < best) {
			best = j + len(end)
		}
	}
	if best < 0 {
		return 0
	}
	return i + 1 + best
}

// link writes the link that starts at s[i] as "text (url)", or the url alone when the
// text is empty or the url itself, and returns where it ends; 0 when s[i] starts no
// <a ... href="..."> ... </a>.
func (b *textBuilder) link(s string, i int) int {
	if len(s) < i+3 || (s[i+1] != 'a' && s[i+1] != 'A') || !isSpace(s[i+2]) || s[i+2] == '\v' {
		return 0
	}
	gt := strings.IndexByte(s[i:], '>')
	if gt < 0 {
		return 0
	}
	attrs := s[i+3 : i+gt]
	// The last href="..." in the tag wins.
	for k := len(attrs) - 4; k >= 0; k-- {
		if !strings.EqualFold(attrs[k:k+4], "href") {
			continue
		}
		p := i + 3 + k + 4
		p = skipSpace(s, p)
		if p >= len(s) || s[p] != '=' {
			continue
		}
		p = skipSpace(s, p+1)
		if p >= len(s) || (s[p] != '"' && s[p] != '\'') {
			continue
		}
		q := strings.IndexAny(s[p+1:], "\"'")
		if q < 0 {
			continue
		}
		href := s[p+1 : p+1+q]
		end := strings.IndexByte(s[p+1+q:], '>')
		if end < 0 {
			continue
		}
		textStart := p + 1 + q + end + 1
		close := indexFold(s[textStart:], "</a>")
		if close < 0 {
			continue
		}
		text := strings.TrimSpace(stripTags(s[textStart : textStart+close]))
		url := html.UnescapeString(href)
		if text == "" || html.UnescapeString(text) == url {
			b.text(url)
		} else {
			b.text(text)
			b.text(" (")
			b.text(url)
			b.char(')')
		}
		return textStart + close + len("</a>")
	}
	return 0
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) && s[i] != '\v' {
		i++
	}
	return i
}

// stripTags drops every <...> from s.
func stripTags(s string) string {
	if strings.IndexByte(s, '<') < 0 {
		return s
	}
	var out strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		out.WriteString(s[:i])
		s = s[i+j+1:]
	}
	out.WriteString(s)
	return out.String()
}

// indexFold is strings.Index for an ASCII needle, ignoring case.
func indexFold(s, needle string) int {
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		if s[i] == needle[0] && strings.EqualFold(s[i:i+n], needle) {
			return i
		}
	}
	return -1
}

// tidyLines trims every line and keeps at most one empty line in a row.
func tidyLines(s string) string {
	var out strings.Builder
	out.Grow(len(s))
	newlines := 0
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			newlines++
			continue
		}
		if out.Len() > 0 {
			out.WriteString("\n\n"[:min(newlines, 2)])
		}
		newlines = 1
		out.WriteString(line)
	}
	return out.String()
}
