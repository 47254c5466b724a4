package web

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// preview shows the journeys as timelines and their messages rendered for a sample
// customer.
type preview struct {
	opts Options
	page *template.Template
}

type previewPage struct {
	One      bool // one journey, with its messages
	Journeys []journeyView
}

type journeyView struct {
	ID, Name, Description, File string
	Trigger, TriggerIf, OncePer string
	Reenter                     string
	ExitOn                      []string
	Steps                       []stepView
}

type stepView struct {
	ID, Anchor, When, If, Template, Channels string
	Bypass                                   bool
	Messages                                 []messageView
}

type messageView struct {
	Locale, Kind, Label           string
	Subject, Preheader, Text, Err string
	HTML                          string
}

func (p *preview) index(w http.ResponseWriter, r *http.Request) {
	journeys, _ := p.opts.Files()
	var page previewPage
	for _, j := range journeys.All() {
		page.Journeys = append(page.Journeys, p.view(j, nil))
	}
	render(w, p.opts.Logger, p.page, "/preview/", page)
}

func (p *preview) journey(w http.ResponseWriter, r *http.Request) {
	journeys, tmpl := p.opts.Files()
	j, ok := journeys.Get(r.PathValue("journey"))
	if !ok {
		http.Error(w, fmt.Sprintf("no journey %q is loaded", r.PathValue("journey")), http.StatusNotFound)
		return
	}
	render(w, p.opts.Logger, p.page, "/preview/", previewPage{One: true, Journeys: []journeyView{p.view(j, tmpl)}})
}

// view describes a journey in words; given templates, each step's message is rendered.
func (p *preview) view(j *workflows.Journey, tmpl Renderer) journeyView {
	v := journeyView{ID: j.ID, Name: j.Name, Description: j.Description, File: j.File, ExitOn: j.ExitOn}
	t := j.Trigger
	switch t.Kind {
	case workflows.TriggerEvent:
		v.Trigger = "when an event " + t.Event + " arrives"
		if t.If != nil {
			v.TriggerIf = t.If.Source
		}
		if t.OncePer != nil {
			v.OncePer = t.OncePer.Source
		}
	case workflows.TriggerDate:
		v.Trigger = fmt.Sprintf("every year on the date in customer.%s, at %02d:%02d in the customer's time zone", t.DateAttr, t.AtHour, t.AtMinute)
	case workflows.TriggerInactivity:
		v.Trigger = fmt.Sprintf("when %s after the customer's last %s no other %s came", duration.Format(t.After), t.Event, t.Event)
	}
	if j.ReenterAfter > 0 {
		v.Reenter = "at most once every " + duration.Format(j.ReenterAfter)
	}
	var since time.Duration
	for _, s := range j.Steps {
		since += s.Wait
		sv := stepView{ID: s.ID, Anchor: j.ID + "." + s.ID, Template: s.Send.Template, Channels: strings.Join(s.Send.Channels, ", "),
			Bypass: s.Send.Caps == workflows.CapsBypass}
		if len(s.Send.Variants) > 0 {
			var vs []string
			for _, v := range s.Send.Variants {
				vs = append(vs, fmt.Sprintf("%s: %s (weight %g)", v.ID, v.Template, v.Weight))
			}
			sv.Template = "split: " + strings.Join(vs, "; ")
		}
		switch {
		case s.Wait == 0 && since == 0:
			sv.When = "At once"
		case s.Wait == 0:
			sv.When = "Then at once"
		default:
			sv.When = "Wait " + duration.Format(s.Wait)
			if since != s.Wait {
				sv.When += " (" + duration.Format(since) + " after the start)"
			}
		}
		if s.If != nil {
			sv.If = s.If.Source
		}
		if tmpl != nil && len(s.Send.Variants) == 0 {
			sv.Messages = p.messages(tmpl, j, s, s.Send.Template, "")
		}
		for _, vr := range s.Send.Variants {
			if tmpl != nil {
				sv.Messages = append(sv.Messages, p.messages(tmpl, j, s, vr.Template, "variant "+vr.ID+", ")...)
			}
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

// messages renders a template of the step for the sample customer in every locale it
// has, for each kind (email, messenger text) it has; prefix starts each label (the
// variant of a split step).
func (p *preview) messages(set Renderer, j *workflows.Journey, s workflows.Step, name, prefix string) []messageView {
	var out []messageView
	for _, loc := range set.Locales(name) {
		label := loc
		if loc == "" {
			loc, label = p.opts.Locale, p.opts.Locale+" (default)"
		}
		for _, kind := range []channels.Kind{channels.KindEmail, channels.KindMsg} {
			if !set.Has(name, kind) {
				continue
			}
			in := templates.Sample(loc, p.opts.Now().UTC())
			in.Journey = templates.Journey{ID: j.ID, Name: j.Name}
			if j.Trigger.Kind != workflows.TriggerEvent {
				in.Event = templates.Event{ID: "timer", Type: string(j.Trigger.Kind), CustomerID: in.CustomerID,
					OccurredAt: in.Now, Data: map[string]any{}}
			}
			in.Channel = p.channel(s, kind)
			in.UnsubscribeURL, in.FeedbackURL = p.opts.UnsubscribeURL, p.opts.FeedbackURL
			m := messageView{Locale: loc, Kind: string(kind), Label: prefix + label + ", " + kindName(kind)}
			r, err := set.Render(name, kind, loc, templates.NewData(in))
			if err != nil {
				m.Err = err.Error()
			} else {
				m.Subject, m.Preheader, m.Text, m.HTML = r.Subject, r.Preheader, r.Text, r.HTML
			}
			out = append(out, m)
		}
	}
	return out
}

// channel is the channel the sample's unsubscribe link is signed for, as a send of step
// s on a channel of kind would be: the step's first channel of the kind, else the first
// configured one (by name); "" when none is known.
func (p *preview) channel(s workflows.Step, kind channels.Kind) string {
	if p.opts.Channels == nil {
		return ""
	}
	set := p.opts.Channels()
	for _, name := range s.Send.Channels {
		if c, ok := set.Get(name); ok && c.Type.Kind == kind {
			return name
		}
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if set[name].Type.Kind == kind {
			return name
		}
	}
	return ""
}

func kindName(k channels.Kind) string {
	if k == channels.KindEmail {
		return "email"
	}
	return "messenger text"
}
