package config

import (
	"strings"
	"testing"
)

// FuzzExpand: expansion never panics, keeps a text without $ as it is, keeps every line
// where it was when no value holds a newline, names only lines that exist, and Parse
// takes whatever it makes without panicking.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"redis: {url: \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"}\n",
		"secret: \"${RAPPORT_SECRET}\"\n",
		"price: $$5\npassword: ${SMTP_PASSWORD}\n",
		"a: ${UNCLOSED\nb: 1\n",
		"a: ${1BAD}\n",
		"a: ${A:-${B}}\n",
		"a: $\n",
		"http: {addr: \":8080\", api_tokens: [\"${TOKEN}\"]}\nchannels:\n  email: {type: outbox, dir: out, from: \"S <s@x.example>\"}\n",
	} {
		f.Add(s)
	}
	lookup := func(name string) (string, bool) {
		switch name {
		case "SET":
			return "value", true
		case "EMPTY":
			return "", true
		case "REDIS_URL":
			return "redis://r:6379/0", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, text string) {
		x := expand("rapport.yaml", text, lookup)
		if !strings.Contains(text, "$") && x.text != text {
			t.Fatalf("expand(%q) = %q, want it unchanged", text, x.text)
		}
		if in, out := strings.Count(text, "\n"), strings.Count(x.text, "\n"); in != out {
			t.Fatalf("expand(%q) = %q: %d lines became %d", text, x.text, in, out)
		}
		lines := strings.Count(text, "\n") + 1
		for _, e := range x.errs {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("expand(%q): error at line %d of %d: %v", text, e.Line, lines, e)
			}
		}
		Parse("rapport.yaml", []byte(text), lookup) // must not panic
	})
}
