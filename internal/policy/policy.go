// Package policy holds the checks every message passes in the engine's send pipeline
// between choosing a channel and sending: quiet hours, which hold a message back until
// the customer's morning, and frequency caps, which skip a message that would exceed the
// configured number per channel or over all channels in a sliding window.
package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// QuietHours holds back messages that fall due between start and end, local time in the
// customer's time zone, until the end. The span may cross midnight (21:00 to 09:00).
type QuietHours struct {
	start, end int // minutes after midnight
	loc        *time.Location
}

// NewQuietHours parses "HH:MM" start and end; def is the time zone of customers without
// one.
func NewQuietHours(start, end string, def *time.Location) (*QuietHours, error) {
	s, err1 := minutes(start)
	e, err2 := minutes(end)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("quiet hours %q to %q: want HH:MM", start, end)
	}
	return &QuietHours{start: s, end: e, loc: def}, nil
}

func minutes(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	return t.Hour()*60 + t.Minute(), err
}

// Check holds the message back until the end of the quiet hours if it falls inside them.
// A transactional message (caps: bypass, like the thank-you right after an order) is
// expected at once and goes out.
func (q *QuietHours) Check(_ context.Context, d *engine.Delivery) (engine.Verdict, error) {
	if d.Step != nil && d.Step.Send.Caps == workflows.CapsBypass {
		return engine.Verdict{}, nil
	}
	local := d.Now.In(engine.Location(d.Customer, q.loc))
	m := local.Hour()*60 + local.Minute()
	inside := (q.start <= q.end && m >= q.start && m < q.end) || (q.start > q.end && (m >= q.start || m < q.end))
	if !inside {
		return engine.Verdict{}, nil
	}
	until := time.Date(local.Year(), local.Month(), local.Day(), q.end/60, q.end%60, 0, 0, local.Location())
	if !until.After(local) {
		until = time.Date(local.Year(), local.Month(), local.Day()+1, q.end/60, q.end%60, 0, 0, local.Location())
	}
	return engine.Verdict{Until: until, Reason: fmt.Sprintf("quiet hours %02d:%02d-%02d:%02d %s",
		q.start/60, q.start%60, q.end/60, q.end%60, local.Location())}, nil
}

// Limit is one frequency cap: at most Limit messages per Per.
type Limit struct {
	Limit int
	Per   time.Duration
}

// All is the cap counter over every channel.
const All = "all"

// Caps enforces frequency caps per customer, per channel name and over All. A send with
// caps: bypass is never stopped but still counts.
type Caps struct {
	store  *store.Store
	limits map[string]Limit
	keep   time.Duration
}

// NewCaps returns caps with limits keyed by channel name or All.
func NewCaps(st *store.Store, limits map[string]Limit) *Caps {
	c := &Caps{store: st, limits: limits}
	for _, l := range limits {
		c.keep = max(c.keep, l.Per)
	}
	return c
}

func (c *Caps) counters(d *engine.Delivery) []string {
	var out []string
	for _, name := range []string{d.Channel.Name, All} {
		if _, ok := c.limits[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// Check skips the message, as capped, when the customer already had a cap's worth of
// messages on the channel or over all channels within the cap's window.
func (c *Caps) Check(ctx context.Context, d *engine.Delivery) (engine.Verdict, error) {
	counters := c.counters(d)
	if d.Step.Send.Caps == workflows.CapsBypass || len(counters) == 0 {
		return engine.Verdict{}, nil
	}
	since := make([]time.Time, len(counters))
	for i, name := range counters {
		since[i] = d.Now.Add(-c.limits[name].Per)
	}
	counts, err := c.store.SentSince(ctx, d.CustomerID, counters, since)
	if err != nil {
		return engine.Verdict{}, err
	}
	for i, name := range counters {
		if l := c.limits[name]; counts[i] >= int64(l.Limit) {
			return engine.Verdict{Outcome: engine.OutcomeCapped,
				Reason: fmt.Sprintf("cap %s: %d per %s reached", name, l.Limit, duration.Format(l.Per))}, nil
		}
	}
	return engine.Verdict{}, nil
}

// Sent counts a sent message towards the caps.
func (c *Caps) Sent(ctx context.Context, d *engine.Delivery) error {
	if counters := c.counters(d); len(counters) > 0 {
		return c.store.CountSent(ctx, d.CustomerID, d.MessageID, counters, d.Now, c.keep)
	}
	return nil
}
