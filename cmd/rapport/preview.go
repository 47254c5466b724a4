package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/app"
	"github.com/rapporthq/rapport/templates"
)

// previewFlags are the flags of `rapport preview`.
type previewFlags struct {
	config, customer, event, locale, channel, html string
}

// preview renders one template for a sample (or given) customer and event: the subject
// and text to stdout, the HTML to a file or stdout. It needs no Redis.
func preview(c *cli, args []string) int {
	var f previewFlags
	fs := flag.NewFlagSet("rapport preview", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&f.config, "config", c.config, "the config file")
	fs.StringVar(&f.customer, "customer", "", "a JSON `FILE` of profile attributes (default: a sample customer)")
	fs.StringVar(&f.event, "event", "", "a JSON `FILE` with an event as POST /v1/events takes it (default: a sample order)")
	fs.StringVar(&f.locale, "locale", "", "the customer's locale, e.g. ru (default: the customer's, else the config default)")
	fs.StringVar(&f.channel, "channel", "", "a channel name from the config, or a kind: email or msg (default: email when the template has one)")
	fs.StringVar(&f.html, "html", "", "write the HTML to `FILE`, or - for stdout (default: a file in the temp folder)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "usage: rapport preview TEMPLATE [--customer FILE.json] [--event FILE.json] [--locale ru] [--channel email] [--html FILE|-] [--config FILE]")
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
	if err := f.run(rest[0], c.stdout, c.stderr); err != nil {
		fmt.Fprintln(c.stderr, err)
		if errors.As(err, new(badLocale)) {
			return 2
		}
		return 1
	}
	return 0
}

// run renders the template name and writes it out.
func (f previewFlags) run(name string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		if cfg == nil {
			return err
		}
		fmt.Fprintf(stderr, "warning: the config has problems (rapport validate lists them); previewing anyway\n")
	}
	set, err := templates.Load(cfg.Templates)
	if err != nil {
		return err
	}
	kind, err := previewKind(cfg, set, name, f.channel)
	if err != nil {
		return fmt.Errorf("rapport preview: %w", err)
	}
	data, loc, tag, err := f.data(cfg, kind)
	if err != nil {
		return fmt.Errorf("rapport preview: %w", err)
	}
	r, err := set.Render(name, kind, loc, data)
	if err != nil {
		return fmt.Errorf("rapport preview: %w", err)
	}
	return f.write(stdout, name, tag, kind, r)
}

// data is the sample data, with the customer and event of --customer and --event, and
// the locale to render in.
func (f previewFlags) data(cfg *config.Config, kind channels.Kind) (templates.Data, string, string, error) {
	in := templates.Sample(cfg.Defaults.Locale, time.Now().UTC())
	if f.customer != "" {
		var attrs map[string]any
		if err := readJSONFile(f.customer, &attrs); err != nil {
			return templates.Data{}, "", "", fmt.Errorf("--customer: %w", err)
		}
		in.Customer = attrs
	}
	if f.event != "" {
		var ev event.Event
		if err := readJSONFile(f.event, &ev); err != nil {
			return templates.Data{}, "", "", fmt.Errorf("--event: %w", err)
		}
		withEvent(&in, ev)
	}
	loc, tag, err := f.pickLocale(cfg, in.Customer)
	if err != nil {
		return templates.Data{}, "", "", err
	}
	in.Customer["locale"], in.Locale = loc, loc
	in.Channel = previewChannel(cfg, kind, f.channel)
	links := app.NewLinks(cfg)
	in.UnsubscribeURL, in.FeedbackURL = links.UnsubscribeURL, links.FeedbackURL
	return templates.NewData(in), loc, tag, nil
}

// badLocale is a locale that is not a BCP 47 tag: preview exits 2, as for a bad flag.
type badLocale struct{ error }

// pickLocale is the locale to render in: --locale, else the customer's, else
// defaults.locale; and its BCP 47 tag, which names the HTML file.
func (f previewFlags) pickLocale(cfg *config.Config, customer map[string]any) (loc, tag string, err error) {
	loc, from := f.locale, "--locale"
	if v := customer["locale"]; loc == "" && v != nil && v != "" {
		loc, from = fmt.Sprint(v), "the customer's locale"
	}
	if loc == "" {
		loc, from = cfg.Defaults.Locale, "defaults.locale"
	}
	tag, err = event.ParseLocale(from, loc)
	if err != nil {
		return "", "", badLocale{err}
	}
	return loc, tag, nil
}

// withEvent puts ev into in as the event, its customer attributes upserted as the
// intake would.
func withEvent(in *templates.Input, ev event.Event) {
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = in.Now
	}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	for k, v := range ev.Customer {
		in.Customer[k] = v
	}
	in.Event = templates.Event{ID: ev.ID, Type: ev.Type, CustomerID: ev.CustomerID, OccurredAt: ev.OccurredAt, Data: ev.Data}
	if ev.CustomerID != "" {
		in.CustomerID = ev.CustomerID
	}
}

// previewChannel is the channel the preview's unsubscribe link is signed for, as a send
// on it would be: the channel --channel names, else the first configured channel (by
// name) of the kind; "" when there is none.
func previewChannel(cfg *config.Config, kind channels.Kind, channel string) string {
	if _, ok := cfg.Channels[channel]; ok {
		return channel
	}
	names := make([]string, 0, len(cfg.Channels))
	for name := range cfg.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if t, ok := channels.Lookup(cfg.Channels[name].Type); ok && t.Kind == kind {
			return name
		}
	}
	return ""
}

// write prints the subject, preheader and text, and writes the HTML where --html says.
func (f previewFlags) write(stdout io.Writer, name, tag string, kind channels.Kind, r templates.Rendered) error {
	if kind == channels.KindEmail {
		fmt.Fprintf(stdout, "Subject: %s\n", r.Subject)
		if r.Preheader != "" {
			fmt.Fprintf(stdout, "Preheader: %s\n", r.Preheader)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintln(stdout, strings.TrimRight(r.Text, "\n"))
	if kind != channels.KindEmail {
		return nil
	}
	switch f.html {
	case "-":
		fmt.Fprintln(stdout, "\n--- HTML ---")
		_, err := io.WriteString(stdout, r.HTML)
		return err
	case "":
		f.html = filepath.Join(os.TempDir(), "rapport-preview-"+filepath.Base(name)+"."+tag+".html")
	}
	if err := os.WriteFile(f.html, []byte(r.HTML), 0o644); err != nil {
		return fmt.Errorf("rapport preview: --html: %w", err)
	}
	fmt.Fprintf(stdout, "\nHTML written to %s (open it in a browser)\n", f.html)
	return nil
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
