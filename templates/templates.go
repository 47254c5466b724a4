package templates

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/yamlx"
	"gopkg.in/yaml.v3"
)

// Data is what a template is rendered with.
type Data struct {
	Customer       map[string]any
	Event          map[string]any
	Journey        Journey
	Now            time.Time
	UnsubscribeURL string
	// FeedbackURL is the customer's signed feedback page; templates add ?score=N.
	FeedbackURL string
	// Track, when set, rewrites each link of the rendered message for click tracking
	// (the href of each <a>, each http(s) URL of the text), except those the template
	// wrapped in `notrack`. It leaves alone what it should not track.
	Track func(url string) string
	// PreferencesURL is the customer's signed preference page (topics and channels).
	PreferencesURL string
}

// Journey names the journey a message belongs to.
type Journey struct {
	ID, Name string
}

// Rendered is a rendered message.
type Rendered struct {
	// Subject and Preheader are set for emails.
	Subject, Preheader string
	// HTML is the whole HTML document of an email, layout applied.
	HTML string
	// Text is an email's plain-text part, or a messenger message.
	Text string
	// WhatsApp is the approved WhatsApp template that the .msg.txt front matter names,
	// its params rendered like the text; nil when it names none. The whatsapp channel
	// sends it instead of Text.
	WhatsApp *channels.WhatsAppTemplate
}

// variant is one locale's files of one template.
type variant struct {
	subject, preheader *texttemplate.Template
	html               *htmltemplate.Template
	emailText          *texttemplate.Template // nil: derived from the HTML
	msg                *texttemplate.Template
	whatsapp           *waTemplate // from the .msg.txt front matter; nil when absent
}

// waTemplate is the front matter `whatsapp: {template, language, params}` of a .msg.txt.
type waTemplate struct {
	name, language string
	params         []*texttemplate.Template
}

// Set is every template of a directory, parsed.
type Set struct {
	// byName maps name -> locale ("" for the plain files) -> files.
	byName map[string]map[string]*variant
	layout *htmltemplate.Template
}

// file name: NAME[.LOCALE].(email.html|email.txt|msg.txt)
var fileRE = regexp.MustCompile(`^([a-z0-9][a-z0-9_-]*)(?:\.([a-z]{2,3}(?:[-_][A-Za-z0-9]+)?))?\.(email\.html|email\.txt|msg\.txt)$`)

// Load parses every template file in dir. All problems come back together as yamlx.Errors.
func Load(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	s := &Set{byName: map[string]map[string]*variant{}}
	var errs yamlx.Errors
	parts := loadPartials(dir, entries, &errs)
	layoutPath := filepath.Join(dir, "_layout.email.html")
	if src, err := os.ReadFile(layoutPath); err == nil {
		s.layout, err = parts.html("_layout", string(src))
		if err != nil {
			errs = append(errs, parseError(layoutPath, 0, err))
		}
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".md") {
			continue
		}
		path := filepath.Join(dir, name)
		m := fileRE.FindStringSubmatch(name)
		if m == nil {
			errs = append(errs, yamlx.Error{File: path, Msg: "not a template file name: want NAME.email.html, NAME.email.txt or NAME.msg.txt, optionally NAME.LOCALE.*"})
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, yamlx.Error{File: path, Msg: err.Error()})
			continue
		}
		v := s.variant(m[1], normLocale(m[2]))
		if err := v.parse(path, m[3], string(src), parts); err != nil {
			errs.Add(path, err)
		}
	}
	for name, locales := range s.byName {
		for loc, v := range locales {
			if v.emailText != nil && v.html == nil {
				errs = append(errs, yamlx.Error{File: filepath.Join(dir, name+dotLocale(loc)+".email.txt"),
					Msg: "a plain-text email part needs its " + name + dotLocale(loc) + ".email.html"})
			}
			if loc == "" {
				continue
			}
			plain := locales[""]
			if plain == nil || (v.html != nil && plain.html == nil) || (v.msg != nil && plain.msg == nil) {
				errs = append(errs, yamlx.Error{File: filepath.Join(dir, name+dotLocale(loc)+".*"),
					Msg: "locale variant " + loc + " has no plain " + name + " file of the same kind to fall back to"})
			}
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].File < errs[j].File })
	return s, errs.Err()
}

func dotLocale(loc string) string {
	if loc == "" {
		return ""
	}
	return "." + loc
}

func normLocale(l string) string { return strings.ToLower(strings.ReplaceAll(l, "_", "-")) }

func (s *Set) variant(name, locale string) *variant {
	if s.byName[name] == nil {
		s.byName[name] = map[string]*variant{}
	}
	v := s.byName[name][locale]
	if v == nil {
		v = &variant{}
		s.byName[name][locale] = v
	}
	return v
}

// partials are the shared snippets every template may call with {{ template "NAME" . }}:
// the {{ define }} blocks of _*.email.html files (but the layout) for HTML, and of
// _*.msg.txt files for text.
type partials struct {
	htmlBase *htmltemplate.Template
	textBase *texttemplate.Template
}

func loadPartials(dir string, entries []os.DirEntry, errs *yamlx.Errors) *partials {
	p := &partials{
		htmlBase: htmltemplate.New("_partials").Funcs(htmlFuncs).Option("missingkey=zero"),
		textBase: texttemplate.New("_partials").Funcs(textFuncs).Option("missingkey=zero"),
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "_") || name == "_layout.email.html" {
			continue
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			*errs = append(*errs, yamlx.Error{File: path, Msg: err.Error()})
			continue
		}
		switch {
		case strings.HasSuffix(name, ".email.html"):
			_, err = p.htmlBase.New(name).Parse(string(src))
		case strings.HasSuffix(name, ".msg.txt"):
			_, err = p.textBase.New(name).Parse(string(src))
		default:
			err = fmt.Errorf("a partial is _NAME.email.html or _NAME.msg.txt")
		}
		if err != nil {
			*errs = append(*errs, parseError(path, 0, err))
		}
	}
	return p
}

// html parses an HTML template that can call the partials.
func (p *partials) html(name, src string) (*htmltemplate.Template, error) {
	base, err := p.htmlBase.Clone()
	if err != nil {
		return nil, err
	}
	return base.New(name).Parse(src)
}

// text parses a text template that can call the partials.
func (p *partials) text(name, src string) (*texttemplate.Template, error) {
	base, err := p.textBase.Clone()
	if err != nil {
		return nil, err
	}
	return base.New(name).Parse(src)
}

func (v *variant) parse(path, kind, src string, parts *partials) error {
	name := filepath.Base(path)
	var err error
	switch kind {
	case "email.html":
		// The front matter's problems and the body's are reported together; within the
		// body, Go's template parser stops at its first error.
		body, offset, ferr := v.frontMatter(path, src)
		var errs yamlx.Errors
		errs.Add(path, ferr)
		if offset > 0 { // the front matter was found, so the body is known
			if v.html, err = parts.html(name, body); err != nil {
				errs = append(errs, parseError(path, offset, err))
			}
		}
		return errs.Err()
	case "email.txt":
		if v.emailText, err = parts.text(name, src); err != nil {
			return parseError(path, 0, err)
		}
	case "msg.txt":
		body, offset := src, 0
		var errs yamlx.Errors
		if hasFrontMatter(src) {
			var head string
			if head, body, offset, err = splitFrontMatter(path, src); err != nil {
				return err
			}
			errs.Add(path, v.whatsAppFrontMatter(path, head)) // and the body is still checked
		}
		if v.msg, err = parts.text(name, body); err != nil {
			errs = append(errs, parseError(path, offset, err))
		}
		return errs.Err()
	}
	return nil
}

// frontMatter splits the --- block off an email's HTML and parses its subject and
// preheader. offset is the number of lines before the body, 0 when the block is missing
// or unclosed; the body comes back with the front matter's errors when it was found.
func (v *variant) frontMatter(path, src string) (body string, offset int, err error) {
	if !hasFrontMatter(src) {
		return "", 0, yamlx.Errors{{File: path, Line: 1, Msg: "an email template starts with a front-matter block: ---, subject: \"...\", ---"}}
	}
	head, body, offset, err := splitFrontMatter(path, src)
	if err != nil {
		return "", 0, err
	}

	var node yaml.Node
	var errs yamlx.Errors
	if err := yaml.Unmarshal([]byte(head), &node); err != nil {
		return body, offset, yamlx.Errors{{File: path, Line: 2, Msg: "front matter: " + err.Error()}}
	}
	var fm struct {
		Subject   string `yaml:"subject"`
		Preheader string `yaml:"preheader"`
	}
	if len(node.Content) > 0 {
		shiftLines(node.Content[0], 1)
		errs.Add(path, yamlx.Decode(path, node.Content[0], &fm))
	}
	if fm.Subject == "" && len(errs) == 0 {
		errs = append(errs, yamlx.Error{File: path, Line: 1, Msg: "the front matter has no subject:"})
	}
	if v.subject, err = texttemplate.New("subject").Funcs(textFuncs).Option("missingkey=zero").Parse(fm.Subject); err != nil {
		errs = append(errs, parseError(path, 1, err))
	}
	if v.preheader, err = texttemplate.New("preheader").Funcs(textFuncs).Option("missingkey=zero").Parse(fm.Preheader); err != nil {
		errs = append(errs, parseError(path, 1, err))
	}
	return body, offset, errs.Err()
}

func hasFrontMatter(src string) bool {
	return strings.HasPrefix(src, "---\n") || strings.HasPrefix(src, "---\r\n")
}

var frontMatterEnd = regexp.MustCompile(`(?m)^---\r?$`)

// splitFrontMatter splits src, which opens with ---, into the front matter and the body.
// offset is the number of lines before the body.
func splitFrontMatter(path, src string) (head, body string, offset int, err error) {
	rest := src[strings.IndexByte(src, '\n')+1:]
	end := frontMatterEnd.FindStringIndex(rest)
	if end == nil {
		return "", "", 0, yamlx.Errors{{File: path, Line: 1, Msg: "the front-matter block is not closed with ---"}}
	}
	// YAML takes a lone carriage return for a line break, the rest of Rapport counts
	// lines by \n: a lone \r in the front matter would shift every line an error names.
	head = strings.ReplaceAll(strings.ReplaceAll(rest[:end[0]], "\r\n", "\n"), "\r", " ")
	body = strings.TrimPrefix(strings.TrimPrefix(rest[end[1]:], "\r"), "\n")
	return head, body, strings.Count(src[:len(src)-len(body)], "\n"), nil
}

// whatsAppFrontMatter reads a .msg.txt's front matter: only `whatsapp: {template,
// language, params}`, naming the approved template the whatsapp channel sends.
func (v *variant) whatsAppFrontMatter(path, head string) error {
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(head), &node); err != nil {
		return yamlx.Errors{{File: path, Line: 2, Msg: "front matter: " + err.Error()}}
	}
	if len(node.Content) == 0 {
		return nil
	}
	var fm struct {
		WhatsApp *struct {
			Template string   `yaml:"template"`
			Language string   `yaml:"language"`
			Params   []string `yaml:"params"`
		} `yaml:"whatsapp"`
	}
	shiftLines(node.Content[0], 1)
	if err := yamlx.Decode(path, node.Content[0], &fm); err != nil {
		return err
	}
	wa := fm.WhatsApp
	if wa == nil {
		return nil
	}
	line := node.Content[0].Line
	var errs yamlx.Errors
	if wa.Template == "" || wa.Language == "" {
		errs = append(errs, yamlx.Error{File: path, Line: line,
			Msg: "whatsapp needs the approved template's name and language, like {template: order_thanks, language: en, params: [...]}"})
	}
	v.whatsapp = &waTemplate{name: wa.Template, language: wa.Language}
	for i, p := range wa.Params {
		t, err := texttemplate.New(fmt.Sprintf("whatsapp.params[%d]", i)).Funcs(textFuncs).Option("missingkey=zero").Parse(p)
		if err != nil {
			errs = append(errs, yamlx.Error{File: path, Line: line, Msg: fmt.Sprintf("whatsapp.params[%d]: %v", i, err)})
			continue
		}
		v.whatsapp.params = append(v.whatsapp.params, t)
	}
	return errs.Err()
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// Go template errors read "template: NAME:LINE: message" or "template: NAME:LINE:COL: ...".
var tmplErrRE = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)

func parseError(path string, offset int, err error) yamlx.Error {
	msg := err.Error()
	if m := tmplErrRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return yamlx.Error{File: path, Line: n + offset, Msg: m[2]}
	}
	return yamlx.Error{File: path, Msg: msg}
}

// Has reports whether template name has a plain (no-locale) file for the channel kind.
func (s *Set) Has(name string, kind channels.Kind) bool {
	v := s.byName[name][""]
	if v == nil {
		return false
	}
	if kind == channels.KindEmail {
		return v.html != nil
	}
	return v.msg != nil
}

// Names returns the template names, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Locales returns the locales template name has variants for, sorted; "" stands for the
// plain files and comes first.
func (s *Set) Locales(name string) []string {
	out := make([]string, 0, len(s.byName[name]))
	for l := range s.byName[name] {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// pick returns the variant of name for kind closest to locale.
func (s *Set) pick(name string, kind channels.Kind, locale string) *variant {
	locales := s.byName[name]
	locale = normLocale(locale)
	for _, l := range []string{locale, strings.SplitN(locale, "-", 2)[0], ""} {
		if v := locales[l]; v != nil && ((kind == channels.KindEmail && v.html != nil) || (kind != channels.KindEmail && v.msg != nil)) {
			return v
		}
	}
	return nil
}

// Render renders template name for a channel kind in the customer's locale. With
// data.Track set, its links are rewritten for click tracking.
func (s *Set) Render(name string, kind channels.Kind, locale string, data Data) (Rendered, error) {
	r, err := s.render(name, kind, locale, data)
	if err == nil {
		track(&r, data.Track)
	}
	return r, err
}

func (s *Set) render(name string, kind channels.Kind, locale string, data Data) (Rendered, error) {
	v := s.pick(name, kind, locale)
	if v == nil {
		return Rendered{}, fmt.Errorf("template %s has no %s version", name, kind)
	}
	d := dataMap(data)
	var r Rendered
	var err error
	if kind != channels.KindEmail {
		if r.Text, err = execText(v.msg, d); err != nil || v.whatsapp == nil {
			return r, err
		}
		r.WhatsApp = &channels.WhatsAppTemplate{Name: v.whatsapp.name, Language: v.whatsapp.language}
		for _, p := range v.whatsapp.params {
			text, err := execText(p, d)
			if err != nil {
				return r, err
			}
			r.WhatsApp.Params = append(r.WhatsApp.Params, text)
		}
		return r, nil
	}
	if r.Subject, err = execText(v.subject, d); err != nil {
		return r, err
	}
	r.Subject = strings.Join(strings.Fields(r.Subject), " ")
	if r.Preheader, err = execText(v.preheader, d); err != nil {
		return r, err
	}
	body := getBuffer()
	defer putBuffer(body)
	if err := v.html.Execute(body, d); err != nil {
		return r, cleanExecError(err)
	}
	r.HTML = body.String()
	content := r.HTML
	if s.layout != nil {
		d["content"] = htmltemplate.HTML(r.HTML)
		d["subject"] = r.Subject
		d["preheader"] = r.Preheader
		page := getBuffer()
		defer putBuffer(page)
		if err := s.layout.Execute(page, d); err != nil {
			return r, cleanExecError(err)
		}
		r.HTML = page.String()
	}
	if v.emailText != nil {
		r.Text, err = execText(v.emailText, d)
	} else {
		r.Text = HTMLToText(content)
		if data.UnsubscribeURL != "" && !strings.Contains(r.Text, data.UnsubscribeURL) {
			r.Text += "\n\n" + data.UnsubscribeURL
		}
	}
	return r, err
}

// dataMap is data as templates see it: .customer, .event, .journey, .now and
// .unsubscribe_url.
func dataMap(data Data) map[string]any {
	return map[string]any{
		"customer":        orEmpty(data.Customer),
		"event":           orEmpty(data.Event),
		"journey":         map[string]any{"id": data.Journey.ID, "name": data.Journey.Name},
		"now":             data.Now,
		"unsubscribe_url": data.UnsubscribeURL,
		"feedback_url":    data.FeedbackURL,
		"preferences_url": data.PreferencesURL,
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func execText(t *texttemplate.Template, d map[string]any) (string, error) {
	if t == nil {
		return "", nil
	}
	b := getBuffer()
	defer putBuffer(b)
	if err := t.Execute(b, d); err != nil {
		return "", cleanExecError(err)
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

// buffers are reused across renders, so that a message does not grow its buffers from
// nothing each time.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return // an unusually large message: let it go rather than keep it for ever
	}
	b.Reset()
	buffers.Put(b)
}

func cleanExecError(err error) error { return fmt.Errorf("render: %w", err) }
