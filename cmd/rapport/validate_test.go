package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validate reports every problem of every file in one run, ordered by file and line: an
// unset variable does not hide a broken channel, which does not hide a bad cap, and a
// template's front matter does not hide its body.
func TestValidateReportsEverythingAtOnceInFileAndLineOrder(t *testing.T) {
	dir := t.TempDir()
	wf, tpl := filepath.Join(dir, "workflows"), filepath.Join(dir, "templates")
	for _, d := range []string{wf, tpl} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"rapport.yaml": fmt.Sprintf(`http: {base_url: "http://localhost", api_tokens: [t]}
secret: "${RAPPORT_TEST_UNSET_SECRET}"
workflows: %s
templates: %s
caps:
  emial: {limit: 2, per: 7d}
channels:
  email: {type: outbox, dir: %s, from: "nobody"}
  chat: {type: telegraph}
`, wf, tpl, dir),
		"templates/hello.email.html": "---\nsubject: \"{{ .x \"\n---\n<p>{{ if }}</p>\n",
		"templates/hello.msg.txt":    "Hi {{ .customer.first_name }}\n",
		"workflows/a.yaml":           "trigger: {event: a}\nsteps:\n  - wait: 3 days\n    send: {template: hello, channels: [email]}\n",
		"workflows/b.yaml":           "trigger: {event: b}\nsteps:\n  - send: {template: nope, channels: [fax]}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "rapport.yaml")
	code, out, errOut := runCmd("validate", "--config", cfg)
	if code != 1 || out != "" {
		t.Fatalf("validate = %d, stdout %q", code, out)
	}
	want := []string{
		cfg + ":2: secret must be at least 16 characters",
		cfg + `:6: caps.emial: no channel is called "emial"`,
		cfg + `:8: channels.email: from "nobody" is not an email address`,
		cfg + `:9: channels.chat: unknown type "telegraph"`,
		filepath.Join(tpl, "hello.email.html") + ":2: unclosed action",
		filepath.Join(tpl, "hello.email.html") + ":4: missing value for if",
		filepath.Join(wf, "a.yaml") + `:3: wait: invalid duration "3 days"`,
		filepath.Join(wf, "b.yaml") + `:3: unknown channel "fax"`,
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	next := 0
	for _, l := range lines {
		if next < len(want) && strings.HasPrefix(l, want[next]) {
			next++
		}
	}
	if next < len(want) {
		t.Fatalf("validate output lacks, in this order, %q (and what follows it); got:\n%s", want[next], errOut)
	}
	if !strings.Contains(errOut, "RAPPORT_TEST_UNSET_SECRET is unset or empty") {
		t.Errorf("the secret's problem does not name the unset variable:\n%s", errOut)
	}
}
