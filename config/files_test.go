package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/rapporthq/rapport/channels/email" // registers the smtp type

	"github.com/rapporthq/rapport/config"
)

// A journey naming a channel the config lacks and a template that does not parse are
// reported together, each at its file.
func TestLoadFilesReportsTemplatesAndJourneysAtOnce(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("templates/hello.email.html", "---\nsubject: Hi\n---\n<p>{{ if }}</p>\n")
	write("templates/ok.email.html", "---\nsubject: Hi\n---\n<p>ok</p>\n")
	write("workflows/hello.yaml", "id: hello\ntrigger: {event: signed.up}\nsteps:\n  - send: {template: ok, channels: [sms]}\n")
	write("rapport.yaml", "secret: s3cret-s3cret-s3cret\nworkflows: "+filepath.Join(dir, "workflows")+"\ntemplates: "+filepath.Join(dir, "templates")+"\n"+
		"http: {base_url: \"https://shop.example\", api_tokens: [t0ken-t0ken-t0ken]}\n"+
		"channels:\n  email: {type: smtp, host: localhost, port: 25, from: a@b.example}\n")
	cfg, err := config.Load(filepath.Join(dir, "rapport.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cfg.LoadFiles()
	if err == nil {
		t.Fatal("no error for a bad template and an unknown channel")
	}
	for _, want := range []string{"hello.email.html", "hello.yaml:4", "sms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
