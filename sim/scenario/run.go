package scenario

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/sim"
)

// ProfileUpdated is the event type that applies the scenario's customer at the start,
// the one PUT /v1/customers/{id} sends.
const ProfileUpdated = "customer.updated"

// Check reports what the scenario names that setup does not have: journeys, steps and
// channels, at their lines, so that a typo cannot make an expectation pass unseen.
func (sc *Scenario) Check(setup *sim.Setup) error {
	var errs yamlx.Errors
	for _, x := range sc.Expect {
		if x.Journey != "" {
			j, ok := setup.Journeys.Get(x.Journey)
			if !ok {
				errs = append(errs, yamlx.Error{File: sc.File, Line: x.Line, Msg: fmt.Sprintf("no journey %q is loaded (journeys: %s)",
					x.Journey, journeyIDs(setup))})
			} else if x.Step != "" && !hasStep(j.Steps, x.Step) {
				errs = append(errs, yamlx.Error{File: sc.File, Line: x.Line, Msg: fmt.Sprintf("journey %s has no step %q (steps: %s)",
					x.Journey, x.Step, stepIDs(j.Steps))})
			}
		}
		if x.Variant != "" && x.Journey != "" && x.Step != "" {
			if j, ok := setup.Journeys.Get(x.Journey); ok {
				if i, ok := j.StepIndex(x.Step); ok {
					if _, ok := j.Steps[i].Send.Variant(x.Variant); !ok {
						errs = append(errs, yamlx.Error{File: sc.File, Line: x.Line, Msg: fmt.Sprintf("step %s of %s has no variant %q",
							x.Step, x.Journey, x.Variant)})
					}
				}
			}
		}
		if _, ok := setup.Channels[x.Channel]; x.Channel != "" && !ok {
			errs = append(errs, yamlx.Error{File: sc.File, Line: x.Line, Msg: fmt.Sprintf("no channel %q in the config", x.Channel)})
		}
	}
	for _, key := range sortedKeys(sc.Assign) {
		a := sc.Assign[key]
		jid, sid, isStep := strings.Cut(key, ".")
		j, ok := setup.Journeys.Get(jid)
		switch {
		case !ok:
			errs = append(errs, yamlx.Error{File: sc.File, Line: a.Line, Msg: fmt.Sprintf("assign: no journey %q is loaded (journeys: %s)", jid, journeyIDs(setup))})
		case isStep:
			i, ok := j.StepIndex(sid)
			if !ok {
				errs = append(errs, yamlx.Error{File: sc.File, Line: a.Line, Msg: fmt.Sprintf("assign: journey %s has no step %q (steps: %s)", jid, sid, stepIDs(j.Steps))})
			} else if _, ok := j.Steps[i].Send.Variant(a.Value); !ok {
				errs = append(errs, yamlx.Error{File: sc.File, Line: a.Line, Msg: fmt.Sprintf("assign: step %s of %s has no variant %q", sid, jid, a.Value)})
			}
		}
	}
	return errs.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func journeyIDs(setup *sim.Setup) string {
	var ids []string
	for _, j := range setup.Journeys.All() {
		ids = append(ids, j.ID)
	}
	return strings.Join(ids, ", ")
}

// Result is a scenario run: the whole timeline and how each expectation fared.
type Result struct {
	Scenario *Scenario
	Start    time.Time
	// Location is the scenario customer's time zone, for showing times.
	Location *time.Location
	Timeline []sim.Entry
	// Checks has one entry per expectation, in order.
	Checks []Checked
	// Unexpected are the messages no expectation named, when the scenario is exhaustive.
	Unexpected []sim.Entry
	// Errors are the tasks that failed for good: a scenario with any does not pass.
	Errors []sim.Entry
}

// Checked is how one expectation fared.
type Checked struct {
	Expectation
	OK bool
	// Matched is the message that met the expectation; for a failed none: the messages
	// that should not have happened.
	Matched []sim.Entry
	// Nearest is, for a failed expectation, the message closest to it, if any.
	Nearest *sim.Entry
	// Why says what differs.
	Why string
}

// Passed reports whether every expectation held.
func (r *Result) Passed() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Unexpected) == 0 && len(r.Errors) == 0
}

// Run runs the scenario on a fresh simulation of setup and checks its expectations. The
// error is a problem of the scenario (file:line) or of the simulation itself; a failed
// expectation is not an error but a Result that did not pass.
func Run(ctx context.Context, setup *sim.Setup, sc *Scenario) (*Result, error) {
	if err := sc.Check(setup); err != nil {
		return nil, err
	}
	s, err := sim.New(setup, sim.Options{Start: sc.Start, Assign: sc})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if len(sc.Customer) > 0 {
		ev := event.Event{ID: "scenario-customer", Type: ProfileUpdated, CustomerID: sc.CustomerID, Customer: sc.Customer}
		if err := s.Event(ctx, ev); err != nil {
			return nil, fmt.Errorf("%s: customer: %w", sc.File, err)
		}
	}
	for _, ev := range sc.Events {
		if err := s.AdvanceTo(ctx, sc.Start.Add(ev.At)); err != nil {
			return nil, err
		}
		if err := s.Event(ctx, ev.Event); err != nil {
			return nil, yamlx.Error{File: sc.File, Line: ev.Line, Msg: err.Error()}
		}
	}
	if err := s.AdvanceTo(ctx, sc.Start.Add(sc.RunFor)); err != nil {
		return nil, err
	}
	r := &Result{Scenario: sc, Start: sc.Start, Location: engine.Location(sc.Customer, setup.Location), Timeline: s.Timeline()}
	r.check()
	return r, nil
}

// check matches the expectations against the timeline, in order.
func (r *Result) check() {
	sc := r.Scenario
	var msgs []sim.Entry
	for _, e := range r.Timeline {
		switch e.Kind {
		case sim.KindMessage, sim.KindHeld:
			msgs = append(msgs, e)
		case sim.KindError:
			r.Errors = append(r.Errors, e)
		}
	}
	used := make([]bool, len(msgs))
	pos := 0
	for _, x := range sc.Expect {
		c := Checked{Expectation: x}
		if x.None {
			for _, m := range msgs {
				if m.Kind == sim.KindMessage && x.matches(m, r.Start) {
					c.Matched = append(c.Matched, m)
				}
			}
			c.OK = len(c.Matched) == 0
			r.Checks = append(r.Checks, c)
			continue
		}
		for i := pos; i < len(msgs); i++ {
			if !used[i] && x.matches(msgs[i], r.Start) {
				c.OK, c.Matched, used[i], pos = true, []sim.Entry{msgs[i]}, true, i+1
				break
			}
		}
		if !c.OK {
			c.Nearest, c.Why = x.nearest(msgs, r.Start, pos)
		}
		r.Checks = append(r.Checks, c)
	}
	if sc.Exhaustive {
		for i, m := range msgs {
			if !used[i] && m.Kind == sim.KindMessage {
				r.Unexpected = append(r.Unexpected, m)
			}
		}
	}
}

func (x Expectation) matches(e sim.Entry, start time.Time) bool {
	return len(x.differences(e, start)) == 0
}

// differences lists the fields in which e differs from the expectation.
func (x Expectation) differences(e sim.Entry, start time.Time) []string {
	var d []string
	if x.Customer != "" && e.Customer != x.Customer {
		d = append(d, "customer")
	}
	if x.Journey != "" && e.Journey != x.Journey {
		d = append(d, "journey")
	}
	if x.Step != "" && e.Step != x.Step {
		d = append(d, "step")
	}
	if x.Channel != "" && e.Channel != x.Channel {
		d = append(d, "channel")
	}
	if x.Outcome != "" && e.Outcome != x.Outcome {
		d = append(d, "outcome")
	}
	if x.Variant != "" && e.Variant != x.Variant {
		d = append(d, "variant")
	}
	if x.HasAt {
		off := e.At.Sub(start)
		if (x.Approx && (off < x.At-x.Tolerance || off > x.At+x.Tolerance)) || (!x.Approx && off != x.At) {
			d = append(d, "time")
		}
	}
	if !x.Subject.matches(e.Subject) {
		d = append(d, "subject")
	}
	if !x.Text.matches(e.Text) {
		d = append(d, "text")
	}
	return d
}

// nearest finds the message most like the expectation: the fewest differing fields,
// preferring one that shares its journey and step, then one after pos.
func (x Expectation) nearest(msgs []sim.Entry, start time.Time, pos int) (*sim.Entry, string) {
	best, bestScore := -1, 0
	for i, m := range msgs {
		if x.Journey != "" && m.Journey != x.Journey {
			continue
		}
		d := x.differences(m, start)
		score := len(d) * 10
		if x.Step != "" && m.Step != x.Step {
			score += 5
		}
		if i < pos {
			score += 3 // out of order
		}
		if best < 0 || score < bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		if x.Journey != "" {
			return nil, "no message at all from journey " + x.Journey
		}
		return nil, "no such message"
	}
	m := msgs[best]
	d := x.differences(m, start)
	why := "differs in " + strings.Join(d, ", ")
	if len(d) == 0 {
		why = "it came before a message matched by an earlier expectation (expectations are in order)"
	}
	return &m, why
}

// WriteTimeline writes the timeline, one entry per line, times in the customer's zone.
func (r *Result) WriteTimeline(w io.Writer) {
	for _, e := range r.Timeline {
		fmt.Fprintf(w, "  %s\n", e.Line(r.Start, r.Location))
	}
}

// WriteDiff writes the expectations against what was simulated: an unchanged line for
// each one that held, a - line for one that did not with a + line for what happened
// instead, and + lines for unexpected messages of an exhaustive scenario.
func (r *Result) WriteDiff(w io.Writer) {
	file := r.Scenario.File
	fmt.Fprintf(w, "  --- expected (%s)\n  +++ simulated\n", file)
	for _, c := range r.Checks {
		where := c.where(file)
		switch {
		case c.OK && c.None:
			fmt.Fprintf(w, "    %s: %s\n", where, c.Expectation)
		case c.OK:
			fmt.Fprintf(w, "    %s: %s\n", where, c.Matched[0].Line(r.Start, r.Location))
		case c.None:
			fmt.Fprintf(w, "  - %s: %s\n", where, c.Expectation)
			for _, m := range c.Matched {
				fmt.Fprintf(w, "  + %s   (happened, but must not)\n", m.Line(r.Start, r.Location))
			}
		default:
			fmt.Fprintf(w, "  - %s: %s\n", where, c.Expectation)
			if c.Nearest != nil {
				fmt.Fprintf(w, "  + %s   (nearest: %s)\n", c.Nearest.Line(r.Start, r.Location), c.Why)
			} else {
				fmt.Fprintf(w, "  + (%s)\n", c.Why)
			}
		}
	}
	for _, m := range r.Unexpected {
		fmt.Fprintf(w, "  + %s   (not expected: the scenario is exhaustive)\n", m.Line(r.Start, r.Location))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  + %s   (a task failed for good)\n", e.Line(r.Start, r.Location))
	}
}
