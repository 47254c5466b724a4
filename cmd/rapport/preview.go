package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/app"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/templates"
)

// preview renders one template for a sample (or given) customer and event: the subject
// and text to stdout, the HTML to a file or stdout. It needs no Redis.
func preview(c *cli, args []string) int {
	stdout, stderr := c.stdout, c.stderr
	fs := flag.NewFlagSet("rapport preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", c.config, "the config file")
	customerFile := fs.String("customer", "", "a JSON `FILE` of profile attributes (default: a sample customer)")
	eventFile := fs.String("event", "", "a JSON `FILE` with an event as POST /v1/events takes it (default: a sample order)")
	locale := fs.String("locale", "", "the customer's locale, e.g. ru (default: the customer's, else the config default)")
	channel := fs.String("channel", "", "a channel name from the config, or a kind: email or msg (default: email when the template has one)")
	htmlOut := fs.String("html", "", "write the HTML to `FILE`, or - for stdout (default: a file in the temp folder)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rapport preview TEMPLATE [--customer FILE.json] [--event FILE.json] [--locale ru] [--channel email] [--html FILE|-] [--config FILE]")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if len(rest) != 1 {
		fs.Usage()
		return 2
	}
	name := rest[0]
	cfg, err := config.Load(*configPath)
	if err != nil {
		if cfg == nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stderr, "warning: the config has problems (rapport validate lists them); previewing anyway\n")
	}
	set, err := templates.Load(cfg.Templates)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	kind, err := previewKind(cfg, set, name, *channel)
	if err != nil {
		fmt.Fprintf(stderr, "rapport preview: %v\n", err)
		return 1
	}

	data := templates.Sample(cfg.Defaults.Locale, time.Now().UTC())
	if *customerFile != "" {
		var attrs map[string]any
		if err := readJSONFile(*customerFile, &attrs); err != nil {
			fmt.Fprintf(stderr, "rapport preview: --customer: %v\n", err)
			return 1
		}
		data.Customer = attrs
	}
	if *eventFile != "" {
		var ev event.Event
		if err := readJSONFile(*eventFile, &ev); err != nil {
			fmt.Fprintf(stderr, "rapport preview: --event: %v\n", err)
			return 1
		}
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = data.Now
		}
		if ev.Data == nil {
			ev.Data = map[string]any{}
		}
		for k, v := range ev.Customer { // as the intake would upsert them
			data.Customer[k] = v
		}
		data.Event = map[string]any{"id": ev.ID, "type": ev.Type, "customer_id": ev.CustomerID,
			"occurred_at": ev.OccurredAt, "data": ev.Data}
	}
	loc := *locale
	if loc == "" {
		loc, _ = data.Customer["locale"].(string)
	}
	if loc == "" {
		loc = cfg.Defaults.Locale
	}
	data.Customer["locale"] = loc
	cid, _ := data.Event["customer_id"].(string)
	if cid == "" {
		cid = "c-sample"
	}
	links := app.NewLinks(cfg)
	data.UnsubscribeURL = links.UnsubscribeURL(cid, string(kind))
	if kind == channels.KindMsg {
		data.UnsubscribeURL = ""
	}
	data.FeedbackURL = links.FeedbackURL(signing.Link{CustomerID: cid, MessageID: "preview", Locale: loc, IssuedAt: data.Now})

	r, err := set.Render(name, kind, loc, data)
	if err != nil {
		fmt.Fprintf(stderr, "rapport preview: %v\n", err)
		return 1
	}
	if kind == channels.KindEmail {
		fmt.Fprintf(stdout, "Subject: %s\n", r.Subject)
		if r.Preheader != "" {
			fmt.Fprintf(stdout, "Preheader: %s\n", r.Preheader)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintln(stdout, strings.TrimRight(r.Text, "\n"))
	if kind != channels.KindEmail {
		return 0
	}
	switch *htmlOut {
	case "-":
		fmt.Fprintln(stdout, "\n--- HTML ---")
		io.WriteString(stdout, r.HTML)
		return 0
	case "":
		*htmlOut = filepath.Join(os.TempDir(), "rapport-preview-"+name+"."+loc+".html")
	}
	if err := os.WriteFile(*htmlOut, []byte(r.HTML), 0o644); err != nil {
		fmt.Fprintf(stderr, "rapport preview: --html: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nHTML written to %s (open it in a browser)\n", *htmlOut)
	return 0
}

// previewKind picks the template kind from --channel: a configured channel's kind, or a
// kind named outright; by default email when the template has an email version.
func previewKind(cfg *config.Config, set *templates.Set, name, channel string) (channels.Kind, error) {
	has := func(k channels.Kind) bool { return set.Has(name, k) }
	if !has(channels.KindEmail) && !has(channels.KindMsg) {
		return "", fmt.Errorf("no template %q: no %s.email.html or %s.msg.txt in %s (templates: %s)",
			name, name, name, cfg.Templates, strings.Join(set.Names(), ", "))
	}
	var kind channels.Kind
	switch channel {
	case "":
		kind = channels.KindEmail
		if !has(kind) {
			kind = channels.KindMsg
		}
	case string(channels.KindEmail), string(channels.KindMsg):
		kind = channels.Kind(channel)
	default:
		cc, ok := cfg.Channels[channel]
		if !ok {
			return "", fmt.Errorf("--channel %q is neither a channel of the config nor a kind (email, msg)", channel)
		}
		t, ok := channels.Lookup(cc.Type)
		if !ok {
			return "", fmt.Errorf("--channel %q has an unknown type %q", channel, cc.Type)
		}
		kind = t.Kind
	}
	if !has(kind) {
		return "", fmt.Errorf("template %q has no %s version", name, kind)
	}
	return kind, nil
}

// readJSONFile reads a JSON object from a file, for preview's --customer and --event.
func readJSONFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return decodeJSON(path, data, v)
}

// decodeJSON reads one JSON value, naming the file and the place of a syntax error.
func decodeJSON(file string, data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line := 1 + strings.Count(string(data[:syn.Offset]), "\n")
		return fmt.Errorf("%s:%d: %v", file, line, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: %s should be %s, not %s", file, orTop(typ.Field), typ.Type, typ.Value)
	case err != nil:
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func orTop(field string) string {
	if field == "" {
		return "the whole file"
	}
	return field
}
