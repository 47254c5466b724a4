package scenario

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/workflows"
)

// DefaultRunFor is how long a scenario runs the clock when it does not say.
const DefaultRunFor = 365 * 24 * time.Hour

// DefaultCustomerID is the customer of a scenario whose customer has no id.
const DefaultCustomerID = "c1"

// Outcomes an expectation may name: the history's outcomes, and held (quiet hours).
var outcomes = map[string]bool{"sent": true, "skipped": true, "capped": true, "unreachable": true,
	"uncertain": true, "failed": true, "held_out": true, sim.OutcomeHeld: true}

// Scenario is one parsed scenario file.
type Scenario struct {
	// File is the path it was read from.
	File string
	Name string
	// Config, when set, is the config file the scenario runs with, relative to the
	// directory of the scenario file; empty means the config the command was given.
	Config string
	// Start is the virtual clock's start.
	Start time.Time
	// CustomerID and Customer are the scenario's customer and profile attributes; they
	// are applied at the start as a profile update (customer.updated), as
	// PUT /v1/customers/{id} would.
	CustomerID string
	Customer   map[string]any
	Events     []Event
	// RunFor is how long the clock runs from Start.
	RunFor time.Duration
	// Exhaustive forbids messages no expectation names.
	Exhaustive bool
	// Assign forces groups and variants: "journey" to holdout or treatment,
	// "journey.step" to a variant id.
	Assign map[string]Assignment
	Expect []Expectation
}

// Assignment is one forced group or variant of assign:.
type Assignment struct {
	Line  int
	Value string
}

// Group forces the customer's group in the journey, when assign: names it.
func (sc *Scenario) Group(journey, _ string) (string, bool) {
	a, ok := sc.Assign[journey]
	return a.Value, ok
}

// Variant forces the customer's variant of the step, when assign: names it.
func (sc *Scenario) Variant(journey, step, _ string) (string, bool) {
	a, ok := sc.Assign[journey+"."+step]
	return a.Value, ok
}

// Event is one event of a scenario, At after the start.
type Event struct {
	Line int
	At   time.Duration
	event.Event
}

// Expectation is one line of expect:.
type Expectation struct {
	Line int
	// None: no message matches the other fields (of any outcome, unless Outcome is set).
	None bool
	// HasAt says At was given: the message is At after the start, within Tolerance
	// when Approx.
	HasAt     bool
	At        time.Duration
	Approx    bool
	Tolerance time.Duration
	// Empty fields match anything. Outcome defaults to sent (but not for None).
	Customer, Journey, Step, Channel, Outcome, Variant string
	Subject, Text                                      Match
}

// Match is an exact or, with Substring, a partial match of a text.
type Match struct {
	Value     string
	Substring bool
	Set       bool
}

func (m Match) matches(s string) bool {
	switch {
	case !m.Set:
		return true
	case m.Substring:
		return strings.Contains(s, m.Value)
	}
	return s == m.Value
}

// String shows the match in reports: "value" quoted, or ~"part" for a substring.
func (m Match) String() string {
	if m.Substring {
		return "~" + strconv.Quote(m.Value)
	}
	return strconv.Quote(m.Value)
}

type rawScenario struct {
	Name       string        `yaml:"name"`
	Config     string        `yaml:"config"`
	Start      yaml.Node     `yaml:"start"`
	Customer   rawValue      `yaml:"customer"`
	Events     []rawEvent    `yaml:"events"`
	RunFor     yaml.Node     `yaml:"run_for"`
	Exhaustive bool          `yaml:"exhaustive"`
	Assign     rawValue      `yaml:"assign"`
	Expect     []rawExpected `yaml:"expect"`
}

type rawEvent struct {
	At         yaml.Node `yaml:"at"`
	ID         string    `yaml:"id"`
	Type       string    `yaml:"type"`
	CustomerID string    `yaml:"customer_id"`
	Customer   rawValue  `yaml:"customer"`
	Data       rawValue  `yaml:"data"`
}

// rawValue keeps free-form YAML (profile attributes, event data) as its node. Being a
// yaml.Unmarshaler, yamlx.Decode does not check its keys.
type rawValue struct{ node *yaml.Node }

// UnmarshalYAML keeps the node.
func (v *rawValue) UnmarshalYAML(n *yaml.Node) error { v.node = n; return nil }

type rawExpected struct {
	At       yaml.Node `yaml:"at"`
	None     bool      `yaml:"none"`
	Customer string    `yaml:"customer"`
	Journey  string    `yaml:"journey"`
	Step     string    `yaml:"step"`
	Channel  string    `yaml:"channel"`
	Outcome  string    `yaml:"outcome"`
	Variant  string    `yaml:"variant"`
	Subject  yaml.Node `yaml:"subject"`
	Text     yaml.Node `yaml:"text"`
}

// LoadFile reads and parses the scenario at path.
func LoadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads a scenario; file names it in errors. Every problem comes back at once as
// yamlx.Errors, together with what could be read (nil only for a file that is not YAML),
// so that a caller can also Check what it names and report all of it in one go.
func Parse(file string, data []byte) (*Scenario, error) {
	root, err := yamlx.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var r rawScenario
	p := parser{file: file}
	p.errs.Add(file, yamlx.Decode(file, root, &r))
	sc := &Scenario{File: file, Name: r.Name, Config: r.Config, Exhaustive: r.Exhaustive, Start: sim.DefaultStart,
		RunFor: DefaultRunFor, CustomerID: DefaultCustomerID}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(file), ".test.yaml")
	}
	if !r.Start.IsZero() {
		t, err := time.Parse(time.RFC3339, r.Start.Value)
		if err != nil {
			p.addf(&r.Start, "start %q is not a time like 2026-03-01T10:00:00Z", r.Start.Value)
		} else {
			sc.Start = t
		}
	}
	if !r.RunFor.IsZero() {
		if sc.RunFor = p.duration(&r.RunFor, "run_for"); sc.RunFor <= 0 {
			p.addf(&r.RunFor, "run_for must be longer than 0s")
		}
	}
	if n := r.Customer.node; n != nil {
		attrs, _ := p.value(n).(map[string]any)
		if attrs == nil {
			p.addf(n, "customer is a mapping of profile attributes, like {id: c1, email: anna@example.com}")
		}
		if id, ok := attrs["id"]; ok {
			sc.CustomerID = ""
			switch v := id.(type) {
			case string:
				sc.CustomerID = v
			case float64: // id: 42
				sc.CustomerID = strconv.FormatFloat(v, 'f', -1, 64)
			}
			if sc.CustomerID == "" {
				p.addf(n, "customer.id must be a non-empty text, like c1")
			}
			delete(attrs, "id")
		}
		sc.Customer = attrs
	}
	eventsNode := yamlx.Field(root, "events")
	for i, re := range r.Events {
		node := item(eventsNode, i)
		ev := Event{Line: node.Line, Event: event.Event{ID: re.ID, Type: re.Type, CustomerID: re.CustomerID}}
		if ev.CustomerID == "" {
			ev.CustomerID = sc.CustomerID
		}
		if !re.At.IsZero() {
			if ev.At = p.duration(&re.At, "at"); ev.At > sc.RunFor {
				p.addf(&re.At, "at %s is after run_for (%s): the clock stops before this event", re.At.Value, duration.Format(sc.RunFor))
			}
		}
		if n := re.Customer.node; n != nil {
			if ev.Customer, _ = p.value(n).(map[string]any); ev.Customer == nil {
				p.addf(n, "customer is a mapping of profile attributes")
			}
		}
		if n := re.Data.node; n != nil {
			if ev.Data, _ = p.value(n).(map[string]any); ev.Data == nil {
				p.addf(n, "data is a mapping, like {order_id: A1, total: 30}")
			}
		}
		if err := ev.Validate(); err != nil {
			p.errs = append(p.errs, yamlx.Error{File: file, Line: node.Line, Msg: "event " + err.Error()})
		}
		sc.Events = append(sc.Events, ev)
	}
	for i := 1; i < len(sc.Events); i++ {
		if sc.Events[i].At < sc.Events[i-1].At {
			p.errs = append(p.errs, yamlx.Error{File: file, Line: sc.Events[i].Line,
				Msg: "events are listed in time order: this one is earlier than the one before"})
		}
	}
	if n := r.Assign.node; n != nil {
		sc.Assign = p.assign(n)
	}
	expectNode := yamlx.Field(root, "expect")
	for i, re := range r.Expect {
		node := item(expectNode, i)
		x := Expectation{Line: node.Line, None: re.None, Customer: re.Customer, Journey: re.Journey, Step: re.Step,
			Channel: re.Channel, Outcome: re.Outcome, Variant: re.Variant}
		if x.Outcome != "" && !outcomes[x.Outcome] {
			p.addf(yamlx.Field(node, "outcome"), "outcome %q is not one of sent, skipped, capped, unreachable, uncertain, failed, held_out, held", x.Outcome)
		}
		if x.Outcome == "" && !x.None {
			x.Outcome = "sent"
		}
		if !re.At.IsZero() {
			x.HasAt = true
			p.at(&re.At, &x)
		}
		x.Subject = p.match(&re.Subject, "subject")
		x.Text = p.match(&re.Text, "text")
		if x.None && x.Journey == "" && x.Step == "" && x.Channel == "" && x.Customer == "" && x.Outcome == "" {
			p.errs = append(p.errs, yamlx.Error{File: file, Line: node.Line,
				Msg: "none: true needs at least a journey (or step, channel, outcome) to say what must not happen"})
		}
		sc.Expect = append(sc.Expect, x)
	}
	return sc, p.errs.Err()
}

type parser struct {
	file string
	errs yamlx.Errors
}

// assign reads assign: {journey: holdout, journey.step: variant}.
func (p *parser) assign(n *yaml.Node) map[string]Assignment {
	if n.Kind != yaml.MappingNode {
		p.addf(n, "assign is a mapping, like {abandoned-cart: holdout, abandoned-cart.reminder: discount}")
		return nil
	}
	out := map[string]Assignment{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			p.addf(v, "assign.%s must be a group (holdout, treatment) or a variant id", k.Value)
			continue
		}
		if !strings.Contains(k.Value, ".") && v.Value != engine.GroupHoldout && v.Value != engine.GroupTreatment {
			p.addf(v, "assign.%s: a journey's group is holdout or treatment, not %q (a variant is assigned to journey.step)", k.Value, v.Value)
			continue
		}
		out[k.Value] = Assignment{Line: k.Line, Value: v.Value}
	}
	return out
}

func (p *parser) addf(n *yaml.Node, format string, args ...any) {
	p.errs.Addf(p.file, n, format, args...)
}

func (p *parser) duration(n *yaml.Node, key string) time.Duration {
	d, err := duration.Parse(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		p.addf(n, "%s: %v", key, err)
		return 0
	}
	return d
}

// at reads `30m`, or `~3d ±1h` (also `~3d +-1h`).
func (p *parser) at(n *yaml.Node, x *Expectation) {
	s := strings.TrimSpace(n.Value)
	if !strings.HasPrefix(s, "~") {
		x.At = p.duration(n, "at")
		return
	}
	x.Approx = true
	body := strings.TrimSpace(strings.TrimPrefix(s, "~"))
	at, tol, ok := strings.Cut(body, "±")
	if !ok {
		at, tol, ok = strings.Cut(body, "+-")
	}
	if !ok {
		p.addf(n, "at %q: an approximate time needs a tolerance, like \"~3d ±1h\"", s)
		return
	}
	var err error
	if x.At, err = duration.Parse(strings.TrimSpace(at)); err != nil {
		p.addf(n, "at %q: %v", s, err)
	}
	if x.Tolerance, err = duration.Parse(strings.TrimSpace(tol)); err != nil {
		p.addf(n, "at %q: tolerance: %v", s, err)
	}
}

func (p *parser) match(n *yaml.Node, key string) Match {
	if n.IsZero() {
		return Match{}
	}
	if n.Kind != yaml.ScalarNode {
		p.addf(n, "%s is a text, or ~text to match part of it", key)
		return Match{}
	}
	if v, ok := strings.CutPrefix(n.Value, "~"); ok {
		return Match{Value: v, Substring: true, Set: true}
	}
	return Match{Value: n.Value, Set: true}
}

// value turns YAML into what the same JSON would decode to: numbers are float64, and
// dates stay the strings they were written as.
func (p *parser) value(n *yaml.Node) any {
	switch n.Kind {
	case yaml.AliasNode:
		return p.value(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = p.value(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			l = append(l, p.value(c))
		}
		return l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil {
				var v float64
				if n.Decode(&v) != nil {
					p.addf(n, "%q is not a number", n.Value)
				}
				return v
			}
			return f
		case "!!bool":
			var b bool
			if n.Decode(&b) != nil { // an explicit !!bool on something else
				p.addf(n, "%q is not true or false", n.Value)
			}
			return b
		case "!!null":
			return nil
		}
		return n.Value
	}
	return nil
}

// item returns element i of a sequence node, or an empty node at line 0.
func item(seq *yaml.Node, i int) *yaml.Node {
	if seq != nil && seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
		return seq.Content[i]
	}
	return &yaml.Node{}
}

// String describes the expectation as a line of a diff.
func (x Expectation) String() string {
	var parts []string
	if x.None {
		parts = append(parts, "none:")
	}
	if x.HasAt {
		at := "+" + duration.Format(x.At)
		if x.Approx {
			at = "~" + at + " ±" + duration.Format(x.Tolerance)
		}
		parts = append(parts, at)
	}
	js := x.Journey
	if js == "" {
		js = "*"
	}
	if x.Step != "" {
		js += "/" + x.Step
	}
	parts = append(parts, js)
	if x.Channel != "" {
		parts = append(parts, "on "+x.Channel)
	}
	if x.Outcome != "" {
		parts = append(parts, x.Outcome)
	}
	if x.Variant != "" {
		parts = append(parts, "variant "+x.Variant)
	}
	if x.Customer != "" {
		parts = append(parts, "(customer "+x.Customer+")")
	}
	if x.Subject.Set {
		parts = append(parts, "subject "+x.Subject.String())
	}
	if x.Text.Set {
		parts = append(parts, "text "+x.Text.String())
	}
	return strings.Join(parts, " ")
}

// Where is the expectation's place, file:line.
func (x Expectation) where(file string) string { return fmt.Sprintf("%s:%d", file, x.Line) }

func hasStep(steps []workflows.Step, id string) bool {
	for _, s := range steps {
		if s.ID == id {
			return true
		}
	}
	return false
}

func stepIDs(steps []workflows.Step) string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return strings.Join(ids, ", ")
}
