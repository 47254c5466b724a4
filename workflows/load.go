package workflows

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// Options tell the loader what exists elsewhere, so that references are checked when a
// journey loads rather than when its step falls due.
type Options struct {
	// HasTemplate reports whether template name has files for that kind. nil skips the
	// check.
	HasTemplate func(name string, kind channels.Kind) bool
	// HasTopic reports whether a journey may name topic (see topic.go). nil skips the
	// check.
	HasTopic func(topic string) bool
	// Channel returns the kind of a configured channel name. nil skips the check.
	Channel func(name string) (kind channels.Kind, ok bool)
}

var idRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// Load reads every *.yaml and *.yml file of dir. On any problem it returns a
// yamlx.Errors with every problem of every file, and no Set.
func Load(dir string, opts Options) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read journeys: %w", err)
	}
	var errs yamlx.Errors
	var journeys []*Journey
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, yamlx.Error{File: path, Msg: err.Error()})
			continue
		}
		j, err := LoadFile(path, data, opts)
		if err != nil {
			errs.Add(path, err)
			continue
		}
		journeys = append(journeys, j)
	}
	set, err := NewSet(journeys)
	errs.Add(dir, err)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return set, nil
}

// raw mirrors the YAML of a journey; nodes are kept where a value needs its line.
type raw struct {
	ID           string     `yaml:"id"`
	Name         string     `yaml:"name"`
	Description  string     `yaml:"description"`
	Topic        yaml.Node  `yaml:"topic"`
	Trigger      rawTrigger `yaml:"trigger"`
	ReenterAfter yaml.Node  `yaml:"reenter_after"`
	ExitOn       []string   `yaml:"exit_on"`
	OnUncertain  yaml.Node  `yaml:"on_uncertain"`
	Holdout      yaml.Node  `yaml:"holdout"`
	Steps        []rawStep  `yaml:"steps"`
}

type rawTrigger struct {
	Event      string         `yaml:"event"`
	If         yaml.Node      `yaml:"if"`
	OncePer    yaml.Node      `yaml:"once_per"`
	Date       yaml.Node      `yaml:"date"`
	At         yaml.Node      `yaml:"at"`
	Inactivity *rawInactivity `yaml:"inactivity"`
}

type rawInactivity struct {
	Event string    `yaml:"event"`
	After yaml.Node `yaml:"after"`
}

type rawStep struct {
	ID          string    `yaml:"id"`
	Wait        yaml.Node `yaml:"wait"`
	If          yaml.Node `yaml:"if"`
	OnUncertain yaml.Node `yaml:"on_uncertain"`
	Send        *rawSend  `yaml:"send"`
}

type rawSend struct {
	Template yaml.Node `yaml:"template"`
	Channels yaml.Node `yaml:"channels"`
	Caps     yaml.Node `yaml:"caps"`
	// Variants and Winner are decoded by type so that their unknown keys are found; their
	// nodes, for lines, are looked up under the send node.
	Variants []rawVariant `yaml:"variants"`
	Winner   *rawWinner   `yaml:"winner"`
}

type rawVariant struct {
	ID       string    `yaml:"id"`
	Template yaml.Node `yaml:"template"`
	Weight   yaml.Node `yaml:"weight"`
}

type rawWinner struct {
	Metric     yaml.Node `yaml:"metric"`
	MinSent    yaml.Node `yaml:"min_sent"`
	Confidence yaml.Node `yaml:"confidence"`
}

// LoadFile parses and validates one journey file.
func LoadFile(path string, data []byte, opts Options) (*Journey, error) {
	root, err := yamlx.Parse(path, data)
	if err != nil {
		return nil, err
	}
	var r raw
	c := checker{path: path, opts: opts}
	// Unknown keys and bad values do not stop the checks: every problem is reported.
	c.errs.Add(path, yamlx.Decode(path, root, &r))
	j := c.journey(root, &r)
	return j, c.errs.Err()
}

// checker turns the raw journey into a Journey, collecting every problem with its line.
type checker struct {
	path string
	opts Options
	errs yamlx.Errors
}

func (c *checker) addf(n *yaml.Node, format string, args ...any) {
	c.errs.Addf(c.path, n, format, args...)
}

func (c *checker) journey(root *yaml.Node, r *raw) *Journey {
	j := &Journey{ID: r.ID, Name: r.Name, Description: r.Description, File: c.path, ExitOn: r.ExitOn}
	if j.ID == "" {
		j.ID = strings.TrimSuffix(filepath.Base(c.path), filepath.Ext(c.path))
	}
	if !idRE.MatchString(j.ID) {
		n := yamlx.Field(root, "id")
		if n == nil {
			n = root
		}
		c.addf(n, "journey id %q must be lower-case letters, digits and dashes", j.ID)
	}
	if j.Name == "" {
		j.Name = j.ID
	}
	j.Topic = c.topic(&r.Topic)
	j.ReenterAfter = c.duration(&r.ReenterAfter, "reenter_after")
	j.OnUncertain = c.uncertain(&r.OnUncertain, UncertainSkip)
	j.Holdout = c.holdout(&r.Holdout)
	c.trigger(yamlx.Field(root, "trigger"), &r.Trigger, j)
	for _, ev := range r.ExitOn {
		if ev == "" {
			c.addf(yamlx.Field(root, "exit_on"), "exit_on has an empty event type")
		}
	}
	stepsNode := yamlx.Field(root, "steps")
	if len(r.Steps) == 0 {
		n := stepsNode
		if n == nil {
			n = root
		}
		c.addf(n, "a journey needs at least one step under steps:")
	}
	seen := map[string]bool{}
	for i := range r.Steps {
		var node *yaml.Node
		if stepsNode != nil && i < len(stepsNode.Content) {
			node = stepsNode.Content[i]
		}
		s := c.step(node, &r.Steps[i], i)
		s.OnUncertain = c.uncertain(&r.Steps[i].OnUncertain, j.OnUncertain)
		if seen[s.ID] {
			c.addf(yamlx.Field(node, "id"), "step id %q is used twice in this journey", s.ID)
		}
		seen[s.ID] = true
		j.Steps = append(j.Steps, s)
	}
	return j
}

func (c *checker) trigger(node *yaml.Node, t *rawTrigger, j *Journey) {
	if node == nil {
		c.addf(nil, "a journey needs a trigger: event, date or inactivity")
		return
	}
	kinds := 0
	if t.Event != "" {
		kinds++
		j.Trigger = Trigger{Kind: TriggerEvent, Event: t.Event}
		j.Trigger.If = c.condition(&t.If)
		if !t.OncePer.IsZero() {
			x, err := CompileExpression(t.OncePer.Value)
			if err != nil {
				c.addf(&t.OncePer, "once_per %q: %s", t.OncePer.Value, exprMessage(err))
			}
			j.Trigger.OncePer = x
		}
	}
	if !t.Date.IsZero() {
		kinds++
		j.Trigger = Trigger{Kind: TriggerDate}
		attr, ok := strings.CutPrefix(t.Date.Value, "customer.")
		if !ok || attr == "" || t.Date.Kind != yaml.ScalarNode {
			c.addf(&t.Date, "date must name a customer attribute, like customer.birthday")
		}
		j.Trigger.DateAttr = attr
		if t.At.IsZero() {
			c.addf(&t.Date, `a date trigger needs at: "HH:MM", the local time it fires at`)
		} else if h, m, s, ok := clockTime(t.At.Value); ok {
			j.Trigger.AtHour, j.Trigger.AtMinute, j.Trigger.AtSecond = h, m, s
		} else {
			c.addf(&t.At, `at %q is not a time of day like "10:00"`, t.At.Value)
		}
	} else if !t.At.IsZero() {
		c.addf(&t.At, "at belongs to a date trigger")
	}
	if t.Inactivity != nil {
		kinds++
		j.Trigger = Trigger{Kind: TriggerInactivity, Event: t.Inactivity.Event}
		in := yamlx.Field(node, "inactivity")
		if t.Inactivity.Event == "" {
			c.addf(in, "inactivity needs event:, the event whose absence it waits for")
		}
		if t.Inactivity.After.IsZero() {
			c.addf(in, "inactivity needs after:, how long without the event (e.g. 60d)")
		} else if j.Trigger.After = c.duration(&t.Inactivity.After, "after"); j.Trigger.After <= 0 {
			c.addf(&t.Inactivity.After, "after must be longer than 0s")
		}
	}
	if !t.If.IsZero() && t.Event == "" {
		c.addf(&t.If, "if belongs to an event trigger")
	}
	if !t.OncePer.IsZero() && t.Event == "" {
		c.addf(&t.OncePer, "once_per belongs to an event trigger")
	}
	switch {
	case kinds == 0:
		c.addf(node, "trigger needs one of event, date or inactivity")
	case kinds > 1:
		c.addf(node, "trigger has more than one of event, date and inactivity; a journey has exactly one")
	}
}

func clockTime(s string) (h, m, sec int, ok bool) {
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Hour(), t.Minute(), t.Second(), true
		}
	}
	return 0, 0, 0, false
}

func (c *checker) step(node *yaml.Node, r *rawStep, i int) Step {
	s := Step{ID: r.ID, Index: i}
	if s.ID == "" {
		s.ID = "step-" + strconv.Itoa(i+1)
	} else if !idRE.MatchString(s.ID) {
		c.addf(yamlx.Field(node, "id"), "step id %q must be lower-case letters, digits and dashes", s.ID)
	}
	s.Wait = c.duration(&r.Wait, "wait")
	s.If = c.condition(&r.If)
	if r.Send == nil {
		c.addf(node, "step %s needs send: with a template and channels", s.ID)
		return s
	}
	sendNode := yamlx.Field(node, "send")
	s.Send.Template = r.Send.Template.Value
	variantsNode, winnerNode := yamlx.Field(sendNode, "variants"), yamlx.Field(sendNode, "winner")
	split := variantsNode != nil
	switch {
	case split && !r.Send.Template.IsZero():
		c.addf(&r.Send.Template, "send has both template and variants: a split step names its templates under variants")
	case !split && s.Send.Template == "":
		c.addf(sendNode, "send needs template: (or variants: for a split)")
	}
	if winnerNode != nil && !split {
		c.addf(winnerNode, "winner belongs to a split step, one with variants:")
	}
	switch r.Send.Caps.Value {
	case "", string(CapsApply):
		s.Send.Caps = CapsApply
	case string(CapsBypass):
		s.Send.Caps = CapsBypass
	default:
		c.addf(&r.Send.Caps, "caps must be apply or bypass, not %q", r.Send.Caps.Value)
	}
	if r.Send.Channels.Kind != yaml.SequenceNode || len(r.Send.Channels.Content) == 0 {
		n := &r.Send.Channels
		if n.IsZero() {
			n = sendNode
		}
		c.addf(n, "send needs channels: a list such as [preferred, email]")
		c.split(&s, sendNode, r.Send, nil, false)
		return s
	}
	var kinds []channels.Kind
	for _, ch := range r.Send.Channels.Content {
		s.Send.Channels = append(s.Send.Channels, ch.Value)
		if ch.Value == Preferred || c.opts.Channel == nil {
			continue
		}
		kind, ok := c.opts.Channel(ch.Value)
		if !ok {
			c.addf(ch, "unknown channel %q: use a channel name from the config, or preferred", ch.Value)
			continue
		}
		kinds = append(kinds, kind)
	}
	preferred := len(kinds) < len(s.Send.Channels)
	if !split {
		c.template(&r.Send.Template, s.Send.Template, kinds, preferred)
	}
	c.split(&s, sendNode, r.Send, kinds, preferred)
	return s
}

// split reads a step's variants and winner rule, if it has them.
func (c *checker) split(s *Step, sendNode *yaml.Node, r *rawSend, kinds []channels.Kind, preferred bool) {
	n := yamlx.Field(sendNode, "variants")
	if n == nil {
		return
	}
	s.Send.Variants = c.variants(n, r.Variants, kinds, preferred)
	if w := yamlx.Field(sendNode, "winner"); w != nil && r.Winner != nil {
		s.Send.Winner = c.winner(w, r.Winner)
	}
}

// holdout reads `holdout: N%` as a share in [0, MaxHoldout].
func (c *checker) holdout(n *yaml.Node) float64 {
	if n.IsZero() {
		return 0
	}
	num, ok := strings.CutSuffix(strings.TrimSpace(n.Value), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || n.Kind != yaml.ScalarNode {
		c.addf(n, "holdout must be a percentage like 10%%, not %q", n.Value)
		return 0
	}
	if v < 0 || v > MaxHoldout*100 || math.IsNaN(v) {
		c.addf(n, "holdout %s is outside 0%%-%g%%: a holdout is a minority that gets nothing", n.Value, MaxHoldout*100)
		return 0
	}
	return v / 100
}

// variants reads a split step's variants: ids unique, templates that exist, weights
// that default to equal shares and do not sum to 0.
func (c *checker) variants(n *yaml.Node, rs []rawVariant, kinds []channels.Kind, preferred bool) []Variant {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(rs) != len(n.Content) {
		c.addf(n, "variants must be a list such as [{id: plain, template: cart-reminder}, {id: discount, template: cart-discount}]")
		return nil
	}
	var out []Variant
	seen := map[string]bool{}
	weighted, total := 0, 0.0
	for i, vn := range n.Content {
		r := rs[i]
		v := Variant{ID: r.ID, Template: r.Template.Value, Weight: 1}
		switch {
		case v.ID == "":
			c.addf(vn, "a variant needs an id")
		case !idRE.MatchString(v.ID):
			c.addf(yamlx.Field(vn, "id"), "variant id %q must be lower-case letters, digits and dashes", v.ID)
		case seen[v.ID]:
			c.addf(yamlx.Field(vn, "id"), "variant id %q is used twice in this step", v.ID)
		}
		seen[v.ID] = true
		if v.Template == "" {
			c.addf(vn, "variant %s needs a template", v.ID)
		} else {
			c.template(&r.Template, v.Template, kinds, preferred)
		}
		if !r.Weight.IsZero() {
			weighted++
			w, err := strconv.ParseFloat(r.Weight.Value, 64)
			if err != nil || r.Weight.Kind != yaml.ScalarNode || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				c.addf(&r.Weight, "weight must be a number of 0 or more, not %q", r.Weight.Value)
				w = 0
			}
			v.Weight = w
		}
		total += v.Weight
		out = append(out, v)
	}
	if weighted > 0 && weighted < len(n.Content) {
		c.addf(n, "give every variant a weight, or none for equal shares")
	} else if total == 0 {
		c.addf(n, "the variants' weights sum to 0: no customer would get any of them")
	}
	return out
}

// winner reads a split step's winner rule, with the defaults for keys left out.
func (c *checker) winner(n *yaml.Node, r *rawWinner) *Winner {
	w := &Winner{Metric: Metric(r.Metric.Value), MinSent: DefaultMinSent, Confidence: DefaultConfidence}
	switch w.Metric {
	case "":
		c.addf(n, "winner needs metric: conversion or click")
	case MetricConversion, MetricClick:
	default:
		c.addf(&r.Metric, "unknown winner metric %q: use conversion or click", r.Metric.Value)
	}
	if !r.MinSent.IsZero() {
		v, err := strconv.ParseInt(r.MinSent.Value, 10, 64)
		if err != nil || v < 1 {
			c.addf(&r.MinSent, "min_sent must be a whole number of 1 or more, not %q", r.MinSent.Value)
		}
		w.MinSent = v
	}
	if !r.Confidence.IsZero() {
		v, err := strconv.ParseFloat(r.Confidence.Value, 64)
		if err != nil || !(v >= 0.5 && v < 1) {
			c.addf(&r.Confidence, "confidence must be a probability from 0.5 to below 1, like 0.95, not %q", r.Confidence.Value)
		}
		w.Confidence = v
	}
	return w
}

// template checks that the template exists for every named channel's kind, and for at
// least one kind when preferred is listed.
func (c *checker) template(node *yaml.Node, name string, kinds []channels.Kind, preferred bool) {
	has := c.opts.HasTemplate
	if has == nil || name == "" {
		return
	}
	if !has(name, channels.KindEmail) && !has(name, channels.KindMsg) {
		c.addf(node, "unknown template %q: no %s.email.html or %s.msg.txt in the templates folder", name, name, name)
		return
	}
	for _, k := range kinds {
		if !has(name, k) {
			c.addf(node, "template %q has no %s version (%s) for a channel of this step", name, k, fileFor(name, k))
		}
	}
}

func fileFor(name string, k channels.Kind) string {
	if k == channels.KindEmail {
		return name + ".email.html"
	}
	return name + ".msg.txt"
}

// uncertain reads an on_uncertain value; def is used when it is not set.
func (c *checker) uncertain(n *yaml.Node, def UncertainMode) UncertainMode {
	switch UncertainMode(n.Value) {
	case "":
		if !n.IsZero() && n.Kind != yaml.ScalarNode {
			c.addf(n, "on_uncertain must be skip or resend")
		}
		return def
	case UncertainSkip, UncertainResend:
		return UncertainMode(n.Value)
	}
	c.addf(n, "on_uncertain must be skip (at most once) or resend (at least once), not %q", n.Value)
	return def
}

func (c *checker) duration(n *yaml.Node, key string) time.Duration {
	if n.IsZero() {
		return 0
	}
	d, err := duration.Parse(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		c.addf(n, "%s: %v", key, err)
		return 0
	}
	return d
}

func (c *checker) condition(n *yaml.Node) *Condition {
	if n.IsZero() {
		return nil
	}
	cond, err := CompileCondition(n.Value)
	if err != nil {
		c.addf(n, "if %q: %s", n.Value, exprMessage(err))
		return nil
	}
	return cond
}

// Set is the journeys in force, indexed for the engine's lookups. It is read-only once
// built, so it can be swapped whole on reload.
type Set struct {
	all        []*Journey
	byID       map[string]*Journey
	entering   map[string][]*Journey
	exiting    map[string][]*Journey
	inactivity map[string][]*Journey
	dated      []*Journey
}

// NewSet indexes journeys; two journeys with one id are an error naming both files.
func NewSet(journeys []*Journey) (*Set, error) {
	s := &Set{byID: map[string]*Journey{}, entering: map[string][]*Journey{},
		exiting: map[string][]*Journey{}, inactivity: map[string][]*Journey{}}
	sort.Slice(journeys, func(i, k int) bool { return journeys[i].File < journeys[k].File })
	var errs yamlx.Errors
	for _, j := range journeys {
		if prev, dup := s.byID[j.ID]; dup {
			errs = append(errs, yamlx.Error{File: j.File, Msg: fmt.Sprintf("journey id %q is already used by %s", j.ID, prev.File)})
			continue
		}
		s.byID[j.ID] = j
		s.all = append(s.all, j)
		switch j.Trigger.Kind {
		case TriggerEvent:
			s.entering[j.Trigger.Event] = append(s.entering[j.Trigger.Event], j)
		case TriggerInactivity:
			s.inactivity[j.Trigger.Event] = append(s.inactivity[j.Trigger.Event], j)
		case TriggerDate:
			s.dated = append(s.dated, j)
		}
		for _, ev := range j.ExitOn {
			s.exiting[ev] = append(s.exiting[ev], j)
		}
	}
	sort.Slice(s.all, func(i, k int) bool { return s.all[i].ID < s.all[k].ID })
	return s, errs.Err()
}

// All returns the journeys sorted by id.
func (s *Set) All() []*Journey { return s.all }

// Get returns the journey with that id.
func (s *Set) Get(id string) (*Journey, bool) {
	j, ok := s.byID[id]
	return j, ok
}

// Entering returns the journeys with an event trigger on eventType.
func (s *Set) Entering(eventType string) []*Journey { return s.entering[eventType] }

// Exiting returns the journeys whose exit_on lists eventType.
func (s *Set) Exiting(eventType string) []*Journey { return s.exiting[eventType] }

// Inactivity returns the journeys whose inactivity trigger watches eventType.
func (s *Set) Inactivity(eventType string) []*Journey { return s.inactivity[eventType] }

// Dated returns the journeys with a date trigger.
func (s *Set) Dated() []*Journey { return s.dated }

// exprMessage is the first line of an expr error, in the names marketers use.
func exprMessage(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return strings.NewReplacer("type workflows.EventEnv", "event", "workflows.EventEnv", "event").Replace(msg)
}
