package templates

import (
	"fmt"
	"html"
	htmltemplate "html/template"
	"reflect"
	"regexp"
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
var Funcs = map[string]any{
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

var (
	linkRE    = regexp.MustCompile(`(?is)<a\s[^>]*href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>`)
	blockRE   = regexp.MustCompile(`(?i)</?(p|div|h[1-6]|ul|ol|table|tr|blockquote)\b[^>]*>|<br\s*/?>`)
	liRE      = regexp.MustCompile(`(?i)<li\b[^>]*>`)
	dropRE    = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)>|<!--.*?-->`)
	tagRE     = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE   = regexp.MustCompile(`[ \t\r\f\v]+`)
	newlineRE = regexp.MustCompile(`\n\s*\n\s*(\n\s*)+`)
)

// HTMLToText derives a plain-text part from an email's HTML: tags go, paragraphs and line
// breaks become new lines, list items get a dash, links keep their target as "text (url)",
// and entities are decoded.
func HTMLToText(s string) string {
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
