package main

import (
	"bytes"
	"html"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/app"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/web"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// The engine, `rapport preview` and the preview page render a template with the same
// data for the same customer, event and journey: the same attributes, the same event,
// and links signed for the channel the message goes out on, named "mail" here. Only the
// feedback link's message id differs: the previews' message is "preview".
func TestTheEngineAndBothPreviewsRenderWithTheSameData(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("templates/dump.email.html", "---\nsubject: Dump\n---\n<p>dump</p>\n")
	write("templates/dump.email.txt", "DUMP {{.customer.first_name}}|{{.customer.locale}}|{{.event.id}}|{{.event.type}}|"+
		"{{.event.customer_id}}|{{.event.data.order_id}}|{{.journey.id}}|{{.journey.name}}|{{.unsubscribe_url}} END\n"+
		"FEEDBACK {{.feedback_url}}\n")
	// The journey is named as the preview's sample journey, so that all three have it.
	write("workflows/preview.yaml", "id: preview\nname: Preview\ntrigger: {event: order.placed}\n"+
		"steps:\n  - {id: dump, send: {template: dump, channels: [mail]}}\n")
	config := write("rapport.yaml", "secret: s3cret-s3cret-s3cret-s3cret\nworkflows: "+filepath.Join(dir, "workflows")+
		"\ntemplates: "+filepath.Join(dir, "templates")+"\n"+
		"defaults: {locale: en}\n"+
		"http: {base_url: \"https://shop.example\", api_tokens: [t0ken-t0ken-t0ken]}\n"+
		"channels:\n  mail: {type: outbox, from: \"Shop <hello@shop.example>\", dir: "+filepath.Join(dir, "outbox")+"}\n")
	dump := regexp.MustCompile(`DUMP [^\n]* END`)
	feedback := regexp.MustCompile(`FEEDBACK https://shop.example/feedback/(\S+)`)
	sample := templates.Sample("en", time.Now().UTC())

	// The engine, on the simulator.
	setup, err := sim.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(setup, sim.Options{Start: sample.Now}) // now: the feedback link must not have expired
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	customer := map[string]any{} // as the intake takes it: without what Rapport keeps itself
	for _, k := range []string{"first_name", "last_name", "email", "locale", "timezone"} {
		customer[k] = sample.Customer[k]
	}
	if err := s.Event(t.Context(), event.Event{ID: sample.Event.ID, Type: sample.Event.Type, CustomerID: sample.CustomerID,
		Customer: customer, Data: sample.Event.Data}); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].Outcome != "sent" {
		t.Fatalf("the engine recorded %+v, want one message sent", msgs)
	}
	engine := dump.FindString(msgs[0].Text)
	feedbacks := []string{feedback.FindStringSubmatch(msgs[0].Text)[1]}

	// rapport preview, with the sample customer and event.
	var out, errOut bytes.Buffer
	if code := run([]string{"preview", "--config", config, "--html", "-", "dump"}, &out, &errOut); code != 0 {
		t.Fatalf("rapport preview exited %d: %s", code, errOut.String())
	}
	cli := dump.FindString(out.String())
	feedbacks = append(feedbacks, feedback.FindStringSubmatch(out.String())[1])

	// The preview page, wired as serve wires it.
	tmpl, journeys, err := loadFiles(t, config)
	if err != nil {
		t.Fatal(err)
	}
	inForce := channels.Set{}
	for name, typ := range setup.Channels {
		inForce[name] = channels.Named{Name: name, Type: typ}
	}
	page := web.Handler(web.Options{Tokens: []string{"t0ken-t0ken-t0ken"}, Locale: "en",
		Files:          func() (*workflows.Set, web.Renderer) { return journeys, tmpl },
		UnsubscribeURL: setup.UnsubscribeURL, FeedbackURL: setup.FeedbackURL,
		Channels: func() channels.Set { return inForce }})
	req := httptest.NewRequest("GET", "/preview/preview", nil)
	req.Header.Set("Authorization", "Bearer t0ken-t0ken-t0ken")
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, req)
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	pages := dump.FindString(html.UnescapeString(string(body)))
	feedbacks = append(feedbacks, feedback.FindStringSubmatch(html.UnescapeString(string(body)))[1])

	if engine == "" || cli == "" || pages == "" {
		t.Fatalf("a render is missing:\nengine:  %q\npreview: %q\npage:    %q (status %d)", engine, cli, pages, rec.Code)
	}
	if cli != engine || pages != engine {
		t.Errorf("the data differ:\nengine:  %s\npreview: %s\npage:    %s", engine, cli, pages)
	}
	// The unsubscribe link is signed for the channel the message goes out on.
	links := signing.NewLinks(signing.NewKeys("s3cret-s3cret-s3cret-s3cret"), "https://shop.example")
	if !strings.Contains(engine, links.UnsubscribeURL(sample.CustomerID, "mail")) {
		t.Errorf("the unsubscribe link is not signed for channel mail: %s", engine)
	}
	for i, token := range feedbacks {
		l, err := links.VerifyFeedback(token)
		if err != nil {
			t.Fatalf("feedback link %d: %v", i, err)
		}
		if l.CustomerID != sample.CustomerID || l.Channel != "mail" || l.Locale != "en" {
			t.Errorf("feedback link %d = %+v, want for %s on mail in en", i, l, sample.CustomerID)
		}
	}
}

// loadFiles reads the templates and journeys the config at path names.
func loadFiles(t *testing.T, path string) (*templates.Set, *workflows.Set, error) {
	t.Helper()
	l, err := app.Load(path)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() {
		if err := l.Channels.Close(); err != nil {
			t.Error(err)
		}
	})
	return l.Templates, l.Journeys, nil
}
