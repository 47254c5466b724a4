package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/web"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

const token = "page-token"

// server serves the pages for the shipped journeys and templates.
func server(t *testing.T) *httptest.Server {
	return serve(t, web.Options{Now: func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }})
}

// serve serves the pages with opts for the shipped journeys and templates, in English,
// behind token.
func serve(t *testing.T, opts web.Options) *httptest.Server {
	t.Helper()
	tmpl, err := templates.Load("../../templates")
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.Load("../../workflows", workflows.Options{HasTemplate: tmpl.Has})
	if err != nil {
		t.Fatal(err)
	}
	opts.Tokens, opts.Locale = []string{token}, "en"
	opts.Files = func() (*workflows.Set, web.Renderer) { return set, tmpl }
	srv := httptest.NewServer(web.Handler(opts))
	t.Cleanup(srv.Close)
	return srv
}

func TestPagesNeedAnAPIToken(t *testing.T) {
	srv := server(t)
	for _, tc := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"no credentials", func(*http.Request) {}, 401},
		{"a wrong bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"a wrong basic-auth password", func(r *http.Request) { r.SetBasicAuth("anyone", "nope") }, 401},
		{"the bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"the token as basic-auth password, any user", func(r *http.Request) { r.SetBasicAuth("marketing", token) }, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", srv.URL+"/preview/", nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("WWW-Authenticate = %q, want a basic-auth challenge for browsers", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// dumpDOM loads url in headless Chromium and returns the DOM after rendering.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium; .ci/run installs it): the browser test is skipped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// The preview page in a real browser, through basic auth as a marketer would open it:
// the journeys as timelines, and a journey's messages rendered for the sample customer
// in each locale.
func TestThePreviewPageInABrowser(t *testing.T) {
	srv := server(t)
	authed := strings.Replace(srv.URL, "http://", "http://marketing:"+token+"@", 1)

	index := dumpDOM(t, authed+"/preview/")
	for _, want := range []string{
		`<a href="/preview/" class="active">Journeys</a>`,
		`<section class="journey" id="win-back">`,
		"when 60d after the customer's last order.placed no other order.placed came",
		`<span class="wait">Wait 30d</span> step <strong>last-note</strong>`,
		`<span class="wait">Wait 1d (1d1h after the start)</span> step <strong>last-chance</strong>`,
		"every year on the date in customer.birthday, at 10:00 in the customer's time zone",
		`if <code>any(event.data.items ?? [], .category == "coffee")</code>, else skipped`,
		`Ends early</span> on <code>order.placed</code>`,
		"once per <code>event.data.cart_id</code>",
	} {
		if !strings.Contains(index, want) {
			t.Errorf("the journeys page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", index)
	}

	page := dumpDOM(t, authed+"/preview/thank-you")
	for _, want := range []string{
		`<li class="step" id="thank-you.thank-you">`,
		`<div class="message" data-locale="en" data-kind="email">`,
		`<strong class="subject">Thank you for your order, Anna!</strong>`,
		`<div class="message" data-locale="ru" data-kind="email">`,
		`<strong class="subject">Спасибо за заказ, Anna!</strong>`,
		`<div class="message" data-locale="ru" data-kind="msg">`,
		"transactional: caps and quiet hours do not stop it",
		`<iframe sandbox="" title="en (default), email" srcdoc="`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the thank-you page lacks %q", want)
		}
	}
	if !strings.Contains(page, "Ethiopia Guji") {
		t.Error("the rendered message does not name the sample order's item")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", page)
	}

	// Without credentials the browser is challenged and shows nothing of the journeys.
	if denied := dumpDOM(t, srv.URL+"/preview/"); strings.Contains(denied, "journey") {
		t.Errorf("without credentials the browser got:\n%s", denied)
	}
}
