package stats

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/abstat"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// MessageClicked is the event type of a followed tracked link (listen.md): its data
// names the message_id, journey, step and variant.
const MessageClicked = "message.clicked"

// The figures of a journey's steps and variants, kept since the journey began (the
// winner rule needs all of them) in one hash per journey, expKey, with fields
// "STEP|FIGURE" and "STEP|VARIANT|FIGURE". Step and variant ids cannot hold a "|".
const (
	xSent          = "sent"
	xClicked       = "clicked"
	xConverted     = "converted"
	xRevenue       = "revenue_cents"
	xHeldOut       = "held_out"
	xHeldConverted = "held_out_converted"
	xHeldRevenue   = "held_out_revenue_cents"
	// xWinner+STEP holds the declared winner of a split step.
	xWinner = "winner|"
)

// fHoldout prefixes the day fields of a journey's holdout group: holdout:entered:J,
// holdout:converted:J, holdout:revenue_cents:J.
const fHoldout = "holdout:"

func (r *Recorder) expKey(journey string) string { return r.prefix + "exp:" + journey }

func stepField(step, variant, figure string) string {
	if variant == "" {
		return step + "|" + figure
	}
	return step + "|" + variant + "|" + figure
}

// defaultWinnerRecheck is how long a process trusts what it read of a split without a
// winner before it reads the counts again: a winner declared by another worker is used
// within this long, and a busy split costs one read per this long.
const defaultWinnerRecheck = 5 * time.Second

type winnerEntry struct {
	id   string
	read time.Time
}

// Outcome counts a sent message for its step and variant, and a held-out step, added up
// in the process and written once a second by Run. The engine reports each recorded
// outcome once.
func (r *Recorder) Outcome(_ context.Context, o engine.Observation) {
	switch o.Outcome {
	case engine.OutcomeSent:
		r.enrolments.Add(r.expKey(o.Journey), stepField(o.Step, "", xSent), 1, time.Time{})
		if o.Variant != "" {
			r.enrolments.Add(r.expKey(o.Journey), stepField(o.Step, o.Variant, xSent), 1, time.Time{})
		}
	case engine.OutcomeHeldOut:
		r.enrolments.Add(r.expKey(o.Journey), stepField(o.Step, "", xHeldOut), 1, time.Time{})
	}
}

// click counts a message clicked, once per message whatever the number of clicks, and
// keeps the click's time for attribution.
func (r *Recorder) click(ctx context.Context, ev event.Event) error {
	msg, _ := ev.Data["message_id"].(string)
	journey, _ := ev.Data["journey"].(string)
	step, _ := ev.Data["step"].(string)
	variant, _ := ev.Data["variant"].(string)
	if msg == "" || journey == "" || step == "" {
		r.log.Warn("a click that names no message_id, journey and step is not counted", "customer", ev.CustomerID, "event", ev.ID)
		return nil
	}
	if _, err := r.facts.RecordClick(ctx, ev.CustomerID, msg, ev.OccurredAt); err != nil {
		return err
	}
	if variant == "" {
		// A click reported without its variant: the message's history line has it.
		hist, err := r.facts.History(ctx, ev.CustomerID)
		if err != nil {
			return err
		}
		for _, rec := range hist {
			if rec.MessageID == msg {
				variant = rec.Variant
				break
			}
		}
	}
	var b batch
	b.add(r.expKey(journey), stepField(step, "", xClicked), 1)
	if variant != "" {
		b.add(r.expKey(journey), stepField(step, variant, xClicked), 1)
	}
	if err := r.run(ctx, "click\x00"+msg, &b); err != nil {
		return fmt.Errorf("count click of %s: %w", msg, err)
	}
	return nil
}

// attribute adds an order to the message it is attributed to: the customer's latest
// clicked message clicked within the attribution window before the order, else the
// latest message sent (or held out) within it. The order's own marker (see Applied)
// makes this happen once per order.
func (r *Recorder) attribute(ctx context.Context, b *batch, ev event.Event) error {
	hist, err := r.facts.History(ctx, ev.CustomerID)
	if err != nil {
		return err
	}
	clicks, err := r.facts.Clicks(ctx, ev.CustomerID)
	if err != nil {
		return err
	}
	at, from := ev.OccurredAt, ev.OccurredAt.Add(-r.window)
	var sent, clicked *store.Record
	var clickedAt time.Time
	for i := range hist { // newest first
		rec := &hist[i]
		if rec.At.After(at) || rec.At.Before(from) {
			continue
		}
		switch engine.Outcome(rec.Outcome) {
		case engine.OutcomeSent:
			if c, ok := clicks[rec.MessageID]; ok && !c.After(at) && !c.Before(from) && c.After(clickedAt) {
				clicked, clickedAt = rec, c
			}
		case engine.OutcomeHeldOut:
		default:
			continue
		}
		if sent == nil {
			sent = rec
		}
	}
	rec := sent
	if clicked != nil {
		rec = clicked
	}
	if rec == nil {
		return nil
	}
	total := cents(ev.Data["total"])
	key := r.expKey(rec.Journey)
	if engine.Outcome(rec.Outcome) == engine.OutcomeHeldOut {
		b.add(key, stepField(rec.Step, "", xHeldConverted), 1)
		b.add(key, stepField(rec.Step, "", xHeldRevenue), total)
		return nil
	}
	b.add(key, stepField(rec.Step, "", xConverted), 1)
	b.add(key, stepField(rec.Step, "", xRevenue), total)
	if rec.Variant != "" {
		b.add(key, stepField(rec.Step, rec.Variant, xConverted), 1)
		b.add(key, stepField(rec.Step, rec.Variant, xRevenue), total)
	}
	return nil
}

// Winner returns the declared winner of a split step with a winner rule, or "" while the
// split goes on. It is engine.Winners. The counts are read at most once per
// Options.WinnerRecheck per step; when the rule fires on them (abstat.Rule), the winner is kept in Redis, set
// once for good, and logged.
func (r *Recorder) Winner(ctx context.Context, j *workflows.Journey, s *workflows.Step) (string, error) {
	if s.Send.Winner == nil || len(s.Send.Variants) == 0 {
		return "", nil
	}
	cacheKey := j.ID + "\x00" + s.ID
	r.mu.Lock()
	e, ok := r.winners[cacheKey]
	r.mu.Unlock()
	if ok && (e.id != "" || time.Since(e.read) < r.recheck) {
		return e.id, nil
	}
	h, err := r.rdb.HGetAll(ctx, r.expKey(j.ID)).Result()
	if err != nil {
		return "", fmt.Errorf("read the split of %s/%s: %w", j.ID, s.ID, err)
	}
	id := h[xWinner+s.ID]
	if id == "" {
		split, fires := splitOf(h, s)
		if fires != "" {
			set, err := r.rdb.HSetNX(ctx, r.expKey(j.ID), xWinner+s.ID, fires).Result()
			if err != nil {
				return "", fmt.Errorf("keep the winner of %s/%s: %w", j.ID, s.ID, err)
			}
			id = fires
			if !set { // another worker declared one first: theirs stands
				if id, err = r.rdb.HGet(ctx, r.expKey(j.ID), xWinner+s.ID).Result(); err != nil {
					return "", fmt.Errorf("read the winner of %s/%s: %w", j.ID, s.ID, err)
				}
			} else {
				r.log.Info("split winner declared", "journey", j.ID, "step", s.ID, "variant", id,
					"metric", s.Send.Winner.Metric, "probability_best", split.ProbabilityBest)
			}
		}
	}
	r.mu.Lock()
	r.winners[cacheKey] = winnerEntry{id: id, read: time.Now()}
	r.mu.Unlock()
	return id, nil
}

// GroupStats is one group's enrolments over the window.
type GroupStats struct {
	Entered        int64   `json:"entered"`
	Converted      int64   `json:"converted"`
	ConversionRate float64 `json:"conversion_rate"`
	Revenue        float64 `json:"revenue"`
}

// Groups are a journey's treatment (sent its messages) and holdout (sent nothing).
type Groups struct {
	Treatment GroupStats `json:"treatment"`
	Holdout   GroupStats `json:"holdout"`
}

// Lift is the treatment's conversion rate over the holdout's, minus one, with its
// interval (abstat.RelativeLift: the Katz log interval of the ratio).
type Lift struct {
	Conversion float64 `json:"conversion"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Confidence float64 `json:"confidence"`
}

// LiftConfidence is the confidence of the lift's interval.
const LiftConfidence = 0.95

// StepStats are one step's messages since the journey began: sent (not held out, capped
// or skipped), clicked at least once, and the orders attributed to them.
type StepStats struct {
	Sent      int64   `json:"sent"`
	Clicked   int64   `json:"clicked"`
	Converted int64   `json:"converted"`
	Revenue   float64 `json:"revenue"`
	// HeldOut counts the step's held_out lines, and HeldOutConverted the orders
	// attributed to them; for a journey with a holdout.
	HeldOut          int64 `json:"held_out,omitempty"`
	HeldOutConverted int64 `json:"held_out_converted,omitempty"`
	// Split is set for a split step; its fields sit beside the others in JSON.
	*Split
}

// Split is a split step's variants and what the winner rule says of them.
type Split struct {
	Variants map[string]VariantStats `json:"variants"`
	// Best is the variant most likely to be best on the rule's metric (conversion when
	// the step has no rule), and ProbabilityBest that probability (abstat.ProbBest).
	Best            string  `json:"best"`
	ProbabilityBest float64 `json:"probability_best"`
	// Winner is the declared winner's id, or nil while the split goes on.
	Winner *string `json:"winner"`
}

// VariantStats are one variant's messages and attributed orders.
type VariantStats struct {
	Sent      int64   `json:"sent"`
	Clicked   int64   `json:"clicked"`
	Converted int64   `json:"converted"`
	Revenue   float64 `json:"revenue"`
}

// splitOf reads a split step's variants from its journey's hash and applies its winner
// rule: Winner is the declared one; fires is the variant the rule picks now, if any.
func splitOf(h map[string]string, s *workflows.Step) (sp Split, fires string) {
	sp = Split{Variants: map[string]VariantStats{}}
	rule := s.Send.Winner
	metric := workflows.MetricConversion
	if rule != nil {
		metric = rule.Metric
	}
	var arms []abstat.Arm
	var ids []string
	for _, v := range s.Send.Variants {
		vs := VariantStats{Sent: count(h[stepField(s.ID, v.ID, xSent)]), Clicked: count(h[stepField(s.ID, v.ID, xClicked)]),
			Converted: count(h[stepField(s.ID, v.ID, xConverted)]),
			Revenue:   float64(count(h[stepField(s.ID, v.ID, xRevenue)])) / 100}
		sp.Variants[v.ID] = vs
		if v.Weight <= 0 {
			continue // sent to no one: not in the contest
		}
		success := vs.Converted
		if metric == workflows.MetricClick {
			success = vs.Clicked
		}
		arms = append(arms, abstat.Arm{Trials: vs.Sent, Successes: success})
		ids = append(ids, v.ID)
	}
	if len(arms) == 0 {
		return sp, ""
	}
	var d abstat.Decision
	if rule != nil {
		d = abstat.Rule{MinSent: rule.MinSent, Confidence: rule.Confidence}.Decide(arms)
	} else {
		d = abstat.Rule{}.Decide(arms)
		d.Winner = -1
	}
	sp.Best, sp.ProbabilityBest = ids[d.Best], ratio(d.ProbBest[d.Best], 1, 3)
	if w := h[xWinner+s.ID]; w != "" {
		sp.Winner = &w
	}
	if rule != nil && d.Winner >= 0 {
		fires = ids[d.Winner]
	}
	return sp, fires
}

// experiments fills in a journey's groups, lift and steps from its day counters (dayH:
// the holdout's, summed over the window) and its experiment hash h.
func experiments(js *JourneyStats, j *workflows.Journey, h map[string]string, hold GroupStats) {
	if j.Holdout > 0 {
		t := GroupStats{Entered: max(js.Entered-hold.Entered, 0), Converted: max(js.Converted-hold.Converted, 0),
			Revenue: js.Revenue - hold.Revenue}
		t.ConversionRate = ratio(float64(t.Converted), float64(t.Entered), 3)
		hold.ConversionRate = ratio(float64(hold.Converted), float64(hold.Entered), 3)
		js.Groups = &Groups{Treatment: t, Holdout: hold}
		if l, ok := abstat.RelativeLift(abstat.Arm{Trials: t.Entered, Successes: t.Converted},
			abstat.Arm{Trials: hold.Entered, Successes: hold.Converted}, LiftConfidence); ok {
			js.Lift = &Lift{Conversion: ratio(l.Conversion, 1, 3), Low: ratio(l.Low, 1, 3), High: ratio(l.High, 1, 3), Confidence: l.Confidence}
		}
	}
	js.Steps = map[string]StepStats{}
	for i := range j.Steps {
		s := &j.Steps[i]
		st := StepStats{Sent: count(h[stepField(s.ID, "", xSent)]), Clicked: count(h[stepField(s.ID, "", xClicked)]),
			Converted: count(h[stepField(s.ID, "", xConverted)]), Revenue: float64(count(h[stepField(s.ID, "", xRevenue)])) / 100,
			HeldOut: count(h[stepField(s.ID, "", xHeldOut)]), HeldOutConverted: count(h[stepField(s.ID, "", xHeldConverted)])}
		if len(s.Send.Variants) > 0 {
			sp, _ := splitOf(h, s)
			st.Split = &sp
		}
		js.Steps[s.ID] = st
	}
}

// holdoutField reads a holdout day field, holdout:FIGURE:JOURNEY.
func holdoutField(field string) (figure, journey string, ok bool) {
	rest, ok := strings.CutPrefix(field, fHoldout)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// readExperiments queues the experiment hash of every journey of set on p.
func (r *Recorder) readExperiments(ctx context.Context, p redis.Pipeliner, set *workflows.Set) map[string]*redis.MapStringStringCmd {
	out := map[string]*redis.MapStringStringCmd{}
	if set == nil {
		return out
	}
	for _, j := range set.All() {
		out[j.ID] = p.HGetAll(ctx, r.expKey(j.ID))
	}
	return out
}

// sortedIDs is the keys of m in order.
func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
