package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// reloadSetup is a rapport whose journeys and templates live in folders the test edits.
type reloadSetup struct {
	*setup
	workflows, templates string
}

func newReloadSetup(t *testing.T, journeys, tmpls map[string]string) *reloadSetup {
	t.Helper()
	r := &reloadSetup{workflows: t.TempDir(), templates: t.TempDir()}
	for name, text := range journeys {
		writeFile(t, filepath.Join(r.workflows, name), text)
	}
	for name, text := range tmpls {
		writeFile(t, filepath.Join(r.templates, name), text)
	}
	r.setup = newSetup(t, r.workflows, "")
	cfg, err := os.ReadFile(r.config)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(cfg), fmt.Sprintf("templates: %q", filepath.Join(repo, "templates")), fmt.Sprintf("templates: %q", r.templates), 1)
	writeFile(t, r.config, edited)
	return r
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// template is an email template whose subject and text say which one it is.
func template(name string) string {
	return "---\nsubject: \"" + name + " for {{ .customer.first_name }}\"\n---\n<p>" + name + "</p>\n"
}

// waitLog waits until the process has logged what at least n times.
func waitLog(t *testing.T, p *proc, what string, n int) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%d log lines with %q", n, what), func() bool {
		return strings.Count(p.out.String(), what) >= n
	})
}

func subjects(msgs []smtptest.Message, to string) []string {
	var out []string
	for _, m := range msgs {
		if m.To[0] == to {
			out = append(out, m.Header.Get("Subject"))
		}
	}
	return out
}

const welcome = `id: welcome
name: Welcome
trigger: {event: customer.signed_up}
steps:
  - id: hello
    send: {template: hello, channels: [email]}
`

func TestEditsAreReloadedAndABrokenEditChangesNothing(t *testing.T) {
	r := newReloadSetup(t, map[string]string{"welcome.yaml": welcome},
		map[string]string{"hello.email.html": template("hello-v1")})
	p := r.start(t, "serve")
	signup := func(cid string) {
		t.Helper()
		body := fmt.Sprintf(`{"type": "customer.signed_up", "customer_id": %q, "customer": {"email": "%s@example.com", "first_name": "Ana"}}`, cid, cid)
		if code, resp := r.post(t, "/v1/events", body); code != 202 {
			t.Fatalf("signup %s = %d %v", cid, code, resp)
		}
	}
	signup("a")
	r.smtp.WaitFor(t, 1, 15*time.Second)

	// A template edit.
	writeFile(t, filepath.Join(r.templates, "hello.email.html"), template("hello-v2"))
	waitLog(t, p, `msg=reloaded`, 1)
	signup("b")
	msgs := r.smtp.WaitFor(t, 2, 15*time.Second)
	if got := subjects(msgs, "b@example.com"); len(got) != 1 || got[0] != "hello-v2 for Ana" {
		t.Fatalf("after the template edit b got %v, want the new template", got)
	}

	// A journey edit: a new journey with a new template, in one go.
	writeFile(t, filepath.Join(r.templates, "order.email.html"), template("order-v1"))
	writeFile(t, filepath.Join(r.workflows, "order.yaml"), "id: order\nname: Order\ntrigger: {event: order.placed}\nsteps:\n  - id: thanks\n    send: {template: order, channels: [email]}\n")
	waitLog(t, p, `msg=reloaded`, 2)
	if code, _ := r.post(t, "/v1/events", `{"type": "order.placed", "customer_id": "b", "data": {"total": 5}}`); code != 202 {
		t.Fatal("order refused")
	}
	msgs = r.smtp.WaitFor(t, 3, 15*time.Second)
	if got := subjects(msgs, "b@example.com"); len(got) != 2 || got[1] != "order-v1 for Ana" {
		t.Fatalf("after the journey edit b got %v, want the new journey's message", got)
	}

	// A broken edit: the file's problem is logged at its line, and the last good set runs on.
	writeFile(t, filepath.Join(r.workflows, "welcome.yaml"), "id: welcome\nname: Welcome\ntrigger: {event: customer.signed_up}\nsteps:\n  - id: hello\n    send: {template: nowhere, channels: [email]}\n")
	waitLog(t, p, "reload refused", 1)
	if out := p.out.String(); !strings.Contains(out, "welcome.yaml:6") {
		t.Fatalf("the refusal does not name welcome.yaml:6:\n%s", out)
	}
	signup("c")
	msgs = r.smtp.WaitFor(t, 4, 15*time.Second)
	if got := subjects(msgs, "c@example.com"); len(got) != 1 || got[0] != "hello-v2 for Ana" {
		t.Fatalf("after the broken edit c got %v, want the last good journey and template", got)
	}
	if code, body := r.get(t, "/readyz", ""); code != 200 {
		t.Fatalf("/readyz after a broken edit = %d %s, want 200", code, body)
	}
}

func TestAStepInsertedBeforeTheWaitingStepDoesNotReachThoseWaiting(t *testing.T) {
	const before = `id: drip
name: Drip
trigger: {event: customer.signed_up}
steps:
  - id: tip
    wait: 4s
    send: {template: tip, channels: [email]}
`
	const after = `id: drip
name: Drip
trigger: {event: customer.signed_up}
steps:
  - id: intro
    send: {template: intro, channels: [email]}
  - id: tip
    wait: 4s
    send: {template: tip, channels: [email]}
`
	r := newReloadSetup(t, map[string]string{"drip.yaml": before},
		map[string]string{"tip.email.html": template("tip"), "intro.email.html": template("intro")})
	p := r.start(t, "serve")
	signup := func(cid string) {
		t.Helper()
		body := fmt.Sprintf(`{"type": "customer.signed_up", "customer_id": %q, "customer": {"email": "%s@example.com", "first_name": "Ana"}}`, cid, cid)
		if code, resp := r.post(t, "/v1/events", body); code != 202 {
			t.Fatalf("signup %s = %d %v", cid, code, resp)
		}
	}
	signup("waiting") // waits 4s for the tip
	testutil.WaitFor(t, 10*time.Second, "the waiting customer's step to be scheduled", func() bool {
		ens, _ := r.customer(t, "waiting")["enrolments"].([]any)
		for _, e := range ens {
			if en, _ := e.(map[string]any); en["next_step"] == "tip" {
				return true
			}
		}
		return false
	})
	writeFile(t, filepath.Join(r.workflows, "drip.yaml"), after)
	waitLog(t, p, `msg=reloaded`, 1)
	signup("new") // gets the intro at once, the tip 4s later

	msgs := r.smtp.WaitFor(t, 3, 20*time.Second)
	if got := subjects(msgs, "waiting@example.com"); len(got) != 1 || got[0] != "tip for Ana" {
		t.Errorf("the customer who waited got %v, want just the tip it waited for", got)
	}
	if got := subjects(msgs, "new@example.com"); len(got) != 2 || got[0] != "intro for Ana" || got[1] != "tip for Ana" {
		t.Errorf("the new customer got %v, want the intro then the tip", got)
	}
}
