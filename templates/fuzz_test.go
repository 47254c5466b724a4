package templates

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/internal/yamlx"
)

// FuzzFrontMatter: the front matter of an email template either splits off, leaving the
// body as the tail of the file with offset counting the lines before it, or is refused
// with file:line errors; it never panics.
func FuzzFrontMatter(f *testing.F) {
	files, _ := filepath.Glob("*.email.html")
	more, _ := filepath.Glob("testdata/*/*.email.html")
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	f.Add("---\nsubject: \"Hi {{ .customer.first_name }}\"\n---\n<p>x</p>")
	f.Add("---\r\nsubject: x\r\n---\r\n<p>x</p>")
	f.Add("---\nsubject: \"{{ .x \"\n---\n")
	f.Add("---\n---\n")
	f.Add("---\nsubject: [1, 2]\n---\nbody")
	f.Fuzz(func(t *testing.T, src string) {
		var v variant
		body, offset, err := v.frontMatter("t.email.html", src)
		if err != nil {
			var errs yamlx.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("frontMatter refused %q with %T %v, want file:line errors", src, err, err)
			}
			lines := strings.Count(src, "\n") + 1
			for _, e := range errs {
				if e.File != "t.email.html" || e.Line < 1 || e.Line > lines {
					t.Fatalf("frontMatter(%q): error %+v is not at a line of the file", src, e)
				}
			}
			return
		}
		if !strings.HasSuffix(src, body) {
			t.Fatalf("frontMatter(%q): body %q is not the end of the file", src, body)
		}
		if want := strings.Count(src[:len(src)-len(body)], "\n"); offset != want {
			t.Fatalf("frontMatter(%q): offset %d, want the %d lines before the body", src, offset, want)
		}
		if v.subject == nil {
			t.Fatalf("frontMatter(%q): no subject and no error", src)
		}
	})
}
