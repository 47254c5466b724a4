package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shippedConfig writes the shipped config/rapport.yaml with its folders made absolute,
// so that commands run from this package's directory find the shipped journeys and
// templates.
func shippedConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../config/rapport.yaml")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), "\nworkflows: workflows", "\nworkflows: "+filepath.Join(repo, "workflows"), 1)
	src = strings.Replace(src, "\ntemplates: templates", "\ntemplates: "+filepath.Join(repo, "templates"), 1)
	if src == string(data) {
		t.Fatal("config/rapport.yaml no longer names workflows: workflows and templates: templates")
	}
	path := filepath.Join(t.TempDir(), "rapport.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeScenario(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.test.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRapportTestPassesOnEveryShippedScenario(t *testing.T) {
	code, out, errOut := runCmd("test", "--config", shippedConfig(t))
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("rapport test = %d\n%s%s", code, out, errOut)
	}
	for _, j := range []string{"thank-you", "review-request", "usage-tip", "birthday", "abandoned-cart", "win-back"} {
		if !strings.Contains(out, filepath.Join("workflows", "tests", j+".test.yaml")+"  ") {
			t.Errorf("no passing scenario for journey %s:\n%s", j, out)
		}
	}
}

// A wrong expectation fails the run with exit status 1 and a diff that names the
// expectation's line and shows the message that came closest.
func TestAWrongExpectationFailsWithAReadableDiff(t *testing.T) {
	file := writeScenario(t, `name: the reminder
customer: {id: c1, email: anna@example.com, first_name: Anna}
events:
  - {at: 0s, type: cart.abandoned, data: {cart_id: K1, total: 30}}
run_for: 2d
expect:
  - {at: 1h, journey: abandoned-cart, step: reminder, channel: email}
  - {at: 2h, journey: abandoned-cart, step: last-chance, subject: "~Come back"}
  - {none: true, journey: abandoned-cart, step: reminder}
`)
	code, out, errOut := runCmd("simulate", file, "--config", shippedConfig(t))
	if code != 1 {
		t.Fatalf("simulate = %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"FAIL: 2 of 3 expectations failed",
		"  --- expected (" + file + ")\n  +++ simulated\n",
		"    " + file + ":7: +1h ",
		"  - " + file + `:8: +2h abandoned-cart/last-chance sent subject ~"Come back"` + "\n",
		`sent        abandoned-cart/last-chance on email "Still thinking it over?"   (nearest: differs in time, subject)`,
		"  - " + file + ":9: none: abandoned-cart/reminder\n",
		"reminder on email \"You left something in your cart\"   (happened, but must not)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestScenarioErrorsNameFileAndLine(t *testing.T) {
	cfg := shippedConfig(t)
	bad := writeScenario(t, `name: broken
events:
  - {at: 3 days, type: cart.abandoned}
  - {at: 1h, type: "no spaces allowed"}
expect:
  - {at: "~3d", journey: abandoned-cart}
  - {journey: abandoned-cart, outcome: delivered, colour: red}
  - {journey: abandoned-carts}
`)
	code, _, errOut := runCmd("simulate", bad, "--config", cfg)
	if code != 1 {
		t.Fatalf("simulate = %d, want 1", code)
	}
	for _, want := range []string{
		bad + `:3: at: invalid duration "3 days"`,
		bad + ":4: event type: must be letters",
		bad + `:6: at "~3d": an approximate time needs a tolerance, like "~3d ±1h"`,
		bad + `:7: outcome "delivered" is not one of`,
		bad + `:7: unknown key "colour"`,
		bad + `:8: no journey "abandoned-carts" is loaded`, // in the same pass as the rest
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("errors lack %q:\n%s", want, errOut)
		}
	}
	typo := writeScenario(t, "expect:\n  - {journey: abandoned-carts}\n  - {journey: birthday, step: greet}\n")
	code, _, errOut = runCmd("simulate", typo, "--config", cfg)
	if code != 1 || !strings.Contains(errOut, typo+`:2: no journey "abandoned-carts" is loaded`) ||
		!strings.Contains(errOut, typo+`:3: journey birthday has no step "greet" (steps: greeting)`) {
		t.Fatalf("simulate = %d, errors:\n%s", code, errOut)
	}
}

func TestPreviewRendersATemplateWithoutRedis(t *testing.T) {
	cfg := shippedConfig(t)
	customer := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(customer, []byte(`{"first_name": "Ольга", "locale": "ru"}`), 0o644)
	code, out, errOut := runCmd("preview", "thank-you", "--customer", customer, "--html", "-", "--config", cfg)
	if code != 0 || !strings.Contains(out, "Subject: Спасибо за заказ, Ольга!\n") || !strings.Contains(out, "Ethiopia Guji") ||
		!strings.Contains(out, "--- HTML ---") || !strings.Contains(out, "</html>") {
		t.Fatalf("preview = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd("preview", "cart-reminder", "--channel", "msg", "--locale", "en", "--config", cfg)
	if code != 0 || strings.Contains(out, "Subject:") || !strings.Contains(out, "https://shop.example/cart/K-77") {
		t.Fatalf("preview --channel msg = %d\n%s%s", code, out, errOut)
	}
	html := filepath.Join(t.TempDir(), "out.html")
	code, out, _ = runCmd("preview", "birthday", "--html", html, "--config", cfg)
	data, err := os.ReadFile(html)
	if code != 0 || err != nil || !strings.Contains(string(data), "BDAY-ANNA-15") || !strings.Contains(out, "HTML written to "+html) {
		t.Fatalf("preview --html FILE = %d, %v\n%s", code, err, out)
	}
	// The NPS survey's eleven score buttons link to the signed feedback page, as in production.
	code, out, errOut = runCmd("preview", "nps-survey", "--html", "-", "--config", cfg)
	if code != 0 || !strings.Contains(out, "/feedback/") || !strings.Contains(out, "?score=10") {
		t.Fatalf("preview nps-survey = %d, no feedback links\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCmd("preview", "no-such", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, `no template "no-such"`) {
		t.Fatalf("preview of a missing template = %d: %s", code, errOut)
	}
}

// A scenario may name its own config, relative to the scenario file: here one without
// quiet hours, so the night-time review request is not held.
func TestAScenarioRunsWithTheConfigItNames(t *testing.T) {
	shipped := shippedConfig(t)
	data, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	noQuiet := strings.Replace(string(data), "\nquiet_hours:", "\n# quiet_hours:", 1)
	if err := os.WriteFile(filepath.Join(dir, "no-quiet.yaml"), []byte(noQuiet), 0o644); err != nil {
		t.Fatal(err)
	}
	scenario := `config: no-quiet.yaml
start: 2026-03-02T22:00:00Z
customer: {id: c1, email: a@example.com}
events:
  - {at: 0s, type: order.placed}
run_for: 4d
expect:
  - {at: 3d, journey: review-request, step: ask-for-review}
`
	file := filepath.Join(dir, "night.test.yaml")
	if err := os.WriteFile(file, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd("simulate", file, "--config", shipped); code != 0 {
		t.Fatalf("with its own config = %d\n%s%s", code, out, errOut)
	}
	// The same scenario on the shipped config holds the step until 09:00.
	if err := os.WriteFile(file, []byte(strings.Replace(scenario, "config: no-quiet.yaml\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCmd("simulate", file, "--config", shipped); code != 1 || !strings.Contains(out, "held        review-request/ask-for-review") {
		t.Fatalf("on the shipped config = %d\n%s", code, out)
	}
}

// A locale is a BCP 47 tag, never a path: preview names its HTML file after the locale,
// and --locale ../../../x/owned once wrote owned.html outside the temp folder.
func TestPreviewTakesOnlyALanguageTagAsTheLocale(t *testing.T) {
	cfg := shippedConfig(t)
	root := t.TempDir()
	tmp := filepath.Join(root, "a", "b", "c")
	for _, dir := range []string{tmp, filepath.Join(root, "a", "x")} { // x: where owned.html would land
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)
	customer := filepath.Join(root, "c.json")
	if err := os.WriteFile(customer, []byte(`{"locale": "../../x/owned"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"preview", "thank-you", "--locale", "../../../x/owned", "--config", cfg},
		{"preview", "thank-you", "--customer", customer, "--config", cfg},
	} {
		code, out, errOut := runCmd(args...)
		if code != 2 || !strings.Contains(errOut, "is not a BCP 47 language tag") {
			t.Errorf("%v = %d, want 2 and the locale refused\n%s%s", args[2:4], code, out, errOut)
		}
	}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".html") {
			t.Errorf("preview wrote %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd("preview", "thank-you", "--locale", "ru_RU", "--config", cfg)
	want := filepath.Join(tmp, "rapport-preview-thank-you.ru-RU.html")
	if _, err := os.Stat(want); code != 0 || err != nil {
		t.Fatalf("preview --locale ru_RU = %d, %v: want %s\n%s%s", code, err, want, out, errOut)
	}
}
