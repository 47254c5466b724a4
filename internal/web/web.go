package web

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

//go:embed pages/*.html
var pages embed.FS

// NavItem is one link of the navigation bar every page shows.
type NavItem struct {
	Title, Path string
}

// nav lists the pages, in the order the bar shows them.
var nav = []NavItem{
	{Title: "Journeys", Path: "/preview/"},
	{Title: "Relationship", Path: "/stats/"},
}

// Options configure Handler.
type Options struct {
	// Tokens are the API tokens; every page needs one (see RequireToken).
	Tokens []string
	// Files returns the journeys and the templates in force, read together so that a
	// live reload never shows a journey without its template.
	Files func() (*workflows.Set, Renderer)
	// Locale is the default locale, used for the plain template files.
	Locale string
	// UnsubscribeURL, when set, gives the sample customer's unsubscribe link.
	UnsubscribeURL func(customerID, channel string) string
	// Channels, when set, gives the configured channels: the sample's unsubscribe link
	// is signed for the channel a send would go out on. nil: the sample has none.
	Channels func() channels.Set
	// FeedbackURL, when set, gives the sample customer's feedback link.
	FeedbackURL func(l signing.Link) string
	// Stats, when set, serves the relationship figures at /stats/.
	Stats StatsReporter
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Renderer renders message templates and lists a template's locales; *templates.Set is
// one.
type Renderer interface {
	Has(name string, kind channels.Kind) bool
	Render(name string, kind channels.Kind, locale string, data templates.Data) (templates.Rendered, error)
	Locales(name string) []string
}

// Handler serves every page (/preview/, /stats/) behind RequireToken.
func Handler(opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Locale == "" {
		opts.Locale = "en"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	p := &preview{opts: opts, page: parsePage("preview.html")}
	mux.HandleFunc("GET /preview/{$}", p.index)
	mux.HandleFunc("GET /preview/{journey}", p.journey)
	if opts.Stats != nil {
		mux.HandleFunc("GET /stats/{$}", (&statsPage{opts: opts, page: parsePage("stats.html")}).show)
	}
	return RequireToken(opts.Tokens, mux)
}

// parsePage parses a page file together with the base template. Pages are part of the
// binary, so a page that does not parse is a programming error.
func parsePage(file string) *template.Template {
	return template.Must(template.New("base.html").Funcs(pageFuncs).ParseFS(pages, "pages/base.html", "pages/"+file))
}

// pageFuncs are the functions pages may call: pct turns a share into per cent.
var pageFuncs = template.FuncMap{"pct": func(f float64) float64 { return 100 * f }}

// layout is what the base template sees: the navigation, the active path, and the
// page's own data.
type layout struct {
	Nav    []NavItem
	Active string
	Data   any
}

// render writes a page, or a 500 if it fails to render (nothing is written half).
func render(w http.ResponseWriter, log *slog.Logger, t *template.Template, active string, data any) {
	var b bytes.Buffer
	if err := t.Execute(&b, layout{Nav: nav, Active: active, Data: data}); err != nil {
		log.Error("page failed to render", "page", active, "err", err)
		http.Error(w, "the page failed to render; the log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}
