package stats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/tally"
	"github.com/rapporthq/rapport/workflows"
)

// Retention is how long a day's NPS and journey counters are kept; reports look back at
// most MaxDays.
const Retention = 400 * 24 * time.Hour

// MaxDays is the longest window a report covers.
const MaxDays = 365

// markerTTL is how long a counted fact is remembered: as long as the intake remembers an
// event id, and the store its applied orders.
var markerTTL = event.DedupWindow

// The event types the counters read.
const (
	OrderPlaced  = store.OrderPlaced
	NPSSubmitted = "nps.submitted"
)

// npsSurvey names the NPS answers kept per customer by the store.
const npsSurvey = "nps"

// Facts keeps what the counters need to remember per customer, in the customer's own
// slot: its latest survey answers. *store.Store is one. (Its first event is kept by the
// store as it applies events: see store.Applied.)
type Facts interface {
	RecordAnswer(ctx context.Context, cid, survey string, a store.Answer) (store.AnswerChange, error)
	// History, Clicks and RecordClick serve attribution: an order goes to the latest
	// clicked, else sent, message of the customer's history in the window.
	History(ctx context.Context, cid string) ([]store.Record, error)
	Clicks(ctx context.Context, cid string) (map[string]time.Time, error)
	RecordClick(ctx context.Context, cid, messageID string, at time.Time) (bool, error)
}

// Recorder counts events and enrolment changes, and reports the counters. It is the
// engine's Stats and one of its Observers. It is safe for concurrent use.
type Recorder struct {
	engine.NopObserver // enrolments and outcomes are counted; the rest is not
	rdb                redis.UniversalClient
	facts              Facts
	prefix             string
	now                func() time.Time
	log                *slog.Logger
	// enrolments adds up enrolment counts, and sends per step and variant, until Run
	// writes them (see Enrolment and Outcome).
	enrolments *tally.Tally
	window     time.Duration
	journeys   func() *workflows.Set
	recheck    time.Duration
	// winners caches what Winner read, per journey and step.
	mu      sync.Mutex
	winners map[string]winnerEntry
}

// Options configure New.
type Options struct {
	// Now is the clock reports are dated by; nil means time.Now.
	Now func() time.Time
	// Logger receives counting failures of enrolment changes, which cannot fail the
	// engine's work; nil means slog.Default().
	Logger *slog.Logger
	// AttributionWindow is how long after a message an order still counts for it
	// (attribution.window); zero means config.DefaultAttributionWindow.
	AttributionWindow time.Duration
	// Journeys returns the journeys in force, for the report's groups, lift, steps and
	// variants; nil reports none of those.
	Journeys func() *workflows.Set
	// WinnerRecheck is how long Winner trusts what it last read of a split without a
	// winner; zero means 5s.
	WinnerRecheck time.Duration
}

// New returns a Recorder keeping its counters in rdb and what it remembers per customer
// in facts.
func New(rdb redis.UniversalClient, facts Facts, opts Options) *Recorder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WinnerRecheck <= 0 {
		opts.WinnerRecheck = defaultWinnerRecheck
	}
	if opts.AttributionWindow <= 0 {
		opts.AttributionWindow = config.DefaultAttributionWindow
	}
	return &Recorder{rdb: rdb, facts: facts, prefix: "rapport:{stats}:", now: opts.Now, log: opts.Logger,
		enrolments: tally.New(rdb, "journey statistics", opts.Logger), window: opts.AttributionWindow,
		journeys: opts.Journeys, winners: map[string]winnerEntry{}, recheck: opts.WinnerRecheck}
}

// Run writes the enrolment counts every interval until ctx ends, then once more.
func (r *Recorder) Run(ctx context.Context, interval time.Duration) { r.enrolments.Run(ctx, interval) }

// Flush writes the enrolment counts not yet written; those it could not write wait.
func (r *Recorder) Flush(ctx context.Context) error { return r.enrolments.Flush(ctx) }

// Keys, all in the {stats} hash slot.
func (r *Recorder) totalsKey() string         { return r.prefix + "totals" }
func (r *Recorder) cohortsKey() string        { return r.prefix + "cohorts" }
func (r *Recorder) dayKey(day string) string  { return r.prefix + "day:" + day }
func (r *Recorder) markerKey(f string) string { return r.prefix + "seen:" + f }

// Fields of the totals hash, the cohorts hash (prefixed by the month) and day hashes
// (journey fields suffixed by the journey id).
const (
	fCustomers    = "customers"
	fBuyers       = "buyers"
	fRepeatBuyers = "repeat_buyers"
	fOrders       = "orders"
	fRevenue      = "revenue_cents"
	fReturned30   = "returned_30d"
	fReturned90   = "returned_90d"
	fEntered      = "entered:"
	fConverted    = "converted:"
	fClicked      = "clicked:"
	fJourneyRev   = "revenue_cents:"
)

func day(t time.Time) string   { return t.UTC().Format("2006-01-02") }
func month(t time.Time) string { return t.UTC().Format("2006-01") }

// countOnce applies a fact's increments after setting its marker with NX, all in the
// {stats} slot; a fact seen before changes nothing.
// KEYS: marker, then the hashes the ops name. ARGV: marker TTL ms, then ops of five
// values each: kind, key index, field, amount, expire-at ms (0: none). The one kind, i,
// increments a hash field.
// Redis does not undo a script that fails half-way: every increment is checked to keep
// its field a whole number within 2^53 (where Lua's numbers are exact, far inside
// HINCRBY's range) before the marker or any field is written.
var countOnce = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local sums = {}
for i = 2, #ARGV, 5 do
  local k, f = KEYS[tonumber(ARGV[i+1])], ARGV[i+2]
  local n = tonumber(ARGV[i+3])
  local id = k .. '\0' .. f
  local cur = sums[id] or tonumber(redis.call('HGET', k, f) or '0')
  if not n or not cur or math.floor(n) ~= n then
    return redis.error_reply('ERR stats: increment ' .. tostring(ARGV[i+3]) .. ' of ' .. f .. ' is not a whole number')
  end
  sums[id] = cur + n
  if math.abs(sums[id]) >= 9007199254740992 then
    return redis.error_reply('ERR stats: ' .. f .. ' would leave the range it can be counted in')
  end
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
for i = 2, #ARGV, 5 do
  local k = KEYS[tonumber(ARGV[i+1])]
  redis.call('HINCRBY', k, ARGV[i+2], ARGV[i+3])
  if ARGV[i+4] ~= '0' then
    redis.call('PEXPIREAT', k, ARGV[i+4])
  end
end
return 1
`)

// batch collects the increments of one fact.
type batch struct{ ops []op }

// op adds n to field of the hash at key, which expires at expire (unix ms; 0: never).
type op struct {
	key, field string
	n, expire  int64
}

func (b *batch) add(key, field string, n int64) {
	b.ops = append(b.ops, op{key: key, field: field, n: n})
}

// addDay adds to the hash of t's day, which expires Retention after the day began. It
// reports false, adding nothing, for a day older than that. Taking an answer out of a
// day it was never counted in (its own count still on its way) makes a count below 0
// for a moment; it cannot outlive the day's hash.
func (b *batch) addDay(r *Recorder, t time.Time, field string, n int64) bool {
	expire := t.UTC().Truncate(24 * time.Hour).Add(Retention)
	if !expire.After(r.now()) {
		return false
	}
	b.ops = append(b.ops, op{key: r.dayKey(day(t)), field: field, n: n, expire: expire.UnixMilli()})
	return true
}

// run applies the batch once per fact.
func (r *Recorder) run(ctx context.Context, fact string, b *batch) error {
	if len(b.ops) == 0 {
		return nil
	}
	sum := sha256.Sum256([]byte(fact))
	keys := []string{r.markerKey(hex.EncodeToString(sum[:12]))}
	index := map[string]int{}
	args := []any{markerTTL.Milliseconds()}
	for _, o := range b.ops {
		i, ok := index[o.key]
		if !ok {
			keys = append(keys, o.key)
			i = len(keys) // KEYS are 1-based; KEYS[1] is the marker
			index[o.key] = i
		}
		args = append(args, "i", i, o.field, o.n, o.expire)
	}
	return countOnce.Run(ctx, r.rdb, keys, args...).Err()
}

// Applied counts one processed event, given what it left (the customer's profile after
// it, whether it was their first event): a new customer, and for order.placed the order, its revenue, a first order (buyer, cohort) or
// a second (repeat buyer, returned within 30 and 90 days); for nps.submitted the answer
// in its day, replacing the customer's previous answer. Calling it again for the same
// event id counts nothing more.
func (r *Recorder) Applied(ctx context.Context, ev event.Event, a store.Applied) error {
	profile := a.Profile
	var b batch
	if a.First {
		b.add(r.totalsKey(), fCustomers, 1)
	}
	switch ev.Type {
	case OrderPlaced:
		r.order(&b, ev, profile)
		if err := r.attribute(ctx, &b, ev); err != nil {
			return fmt.Errorf("attribute order %s: %w", ev.ID, err)
		}
	case MessageClicked:
		if err := r.click(ctx, ev); err != nil {
			return err
		}
		// Every click raises the event; the first on a link of a message counts for the
		// journey's clicked.
		if j, _ := ev.Data["journey"].(string); j != "" && ev.Data["first"] == true {
			b.addDay(r, ev.OccurredAt, fClicked+j, 1)
		}
	case NPSSubmitted:
		if err := r.answer(ctx, &b, ev); err != nil {
			return err
		}
	case engine.TierReached:
		r.tier(&b, ev)
	}
	if err := r.run(ctx, "event\x00"+ev.ID, &b); err != nil {
		return fmt.Errorf("count %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}

func (r *Recorder) order(b *batch, ev event.Event, profile map[string]any) {
	b.add(r.totalsKey(), fOrders, 1)
	b.add(r.totalsKey(), fRevenue, cents(ev.Data["total"]))
	first, _ := profile["first_order_at"].(time.Time)
	if first.IsZero() {
		first = ev.OccurredAt
	}
	switch n, _ := profile["orders_count"].(float64); n {
	case 1:
		b.add(r.totalsKey(), fBuyers, 1)
		b.add(r.cohortsKey(), month(first)+":"+fBuyers, 1)
	case 2:
		b.add(r.totalsKey(), fRepeatBuyers, 1)
		if _, ok := profile["first_order_at"].(time.Time); !ok {
			return // a profile from before first_order_at was kept: no cohort
		}
		gap := ev.OccurredAt.Sub(first)
		if gap <= 30*24*time.Hour {
			b.add(r.cohortsKey(), month(first)+":"+fReturned30, 1)
		}
		if gap <= 90*24*time.Hour {
			b.add(r.cohortsKey(), month(first)+":"+fReturned90, 1)
		}
	}
}

// NPS categories as kept in day hashes.
const (
	promoter  = "nps:promoters"
	passive   = "nps:passives"
	detractor = "nps:detractors"
)

// categories maps the one letter a customer's facts keep (p, n, d) to its day field.
var categories = map[string]string{"p": promoter, "n": passive, "d": detractor}

// category returns the one-letter NPS category of a 0..10 score.
func category(score int) string {
	switch {
	case score >= 9:
		return "p"
	case score >= 7:
		return "n"
	}
	return "d"
}

// Score reads an NPS score from event data: a whole number 0..10, or its text.
func Score(v any) (int, bool) {
	f := number(v)
	if math.IsNaN(f) || f < 0 || f > 10 || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
}

func (r *Recorder) answer(ctx context.Context, b *batch, ev event.Event) error {
	score, ok := Score(ev.Data["score"])
	if !ok {
		r.log.Warn("nps answer without a score 0..10 not counted", "customer", ev.CustomerID, "event", ev.ID)
		return nil
	}
	cat := category(score)
	ch, err := r.facts.RecordAnswer(ctx, ev.CustomerID, npsSurvey, store.Answer{EventID: ev.ID, At: ev.OccurredAt, Value: cat})
	if err != nil {
		return err
	}
	if ch.Standing == store.Stale {
		return nil
	}
	b.addDay(r, ev.OccurredAt, categories[cat], 1)
	if p := ch.Replaced; ch.Standing == store.Latest && p != nil && categories[p.Value] != "" {
		b.addDay(r, p.At, categories[p.Value], -1)
	}
	return nil
}

// Enrolment counts an enrolment entering a journey, or converting: ended by a goal event,
// with the goal event's data.total as the journey's revenue. Both are dated by their
// event. The engine reports each once (an enrolment starts, or a goal ends it, in one
// step of the store), so they need no marker: they are added up in the process and
// written once a second by Run, like the journey counters (see package tally).
func (r *Recorder) Enrolment(_ context.Context, c engine.EnrolmentChange) {
	var b batch
	switch c.Change {
	case engine.Entered:
		b.addDay(r, c.Event.OccurredAt, fEntered+c.Journey, 1)
		if c.HeldOut {
			b.addDay(r, c.Event.OccurredAt, fHoldout+fEntered+c.Journey, 1)
		}
	case engine.Exited:
		if b.addDay(r, c.Event.OccurredAt, fConverted+c.Journey, 1) {
			b.addDay(r, c.Event.OccurredAt, fJourneyRev+c.Journey, cents(c.Event.Data["total"]))
			if c.HeldOut {
				b.addDay(r, c.Event.OccurredAt, fHoldout+fConverted+c.Journey, 1)
				b.addDay(r, c.Event.OccurredAt, fHoldout+fJourneyRev+c.Journey, cents(c.Event.Data["total"]))
			}
		}
	}
	for _, o := range b.ops {
		var expire time.Time // zero: the key never expires
		if o.expire != 0 {
			expire = time.UnixMilli(o.expire)
		}
		r.enrolments.Add(o.key, o.field, o.n, expire)
	}
}

// cents reads a money amount as whole cents, so sums stay exact.
func cents(v any) int64 {
	f := number(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return int64(math.Round(f * 100))
}

// number reads a JSON number or numeric text; anything else is NaN.
func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return f
		}
	case string:
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f
		}
	}
	return math.NaN()
}

// errDays is returned by Report for a window out of range.
var errDays = errors.New("days must be 1 to " + strconv.Itoa(MaxDays))
