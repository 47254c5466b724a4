package policy

import (
	"context"
	"fmt"
	"time"

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
// caps: bypass is never stopped but still counts. Caps only name the windows a message
// must fit in; the engine reserves them together with the message's claim in one step,
// so that sends running at once for one customer cannot pass a cap together.
type Caps struct {
	limits map[string]Limit
}

// NewCaps returns caps with limits keyed by channel name or All.
func NewCaps(limits map[string]Limit) *Caps {
	return &Caps{limits: limits}
}

// Check names the cap windows of the message's channel and of All; with caps: bypass
// they count the message but never stop it.
func (c *Caps) Check(_ context.Context, d *engine.Delivery) (engine.Verdict, error) {
	var v engine.Verdict
	for _, name := range []string{d.Channel.Name, All} {
		l, ok := c.limits[name]
		if !ok {
			continue
		}
		w := store.Window{Counter: name, Limit: l.Limit, Per: l.Per}
		if d.Step.Send.Caps == workflows.CapsBypass {
			w.Limit = 0
		}
		v.Caps = append(v.Caps, w)
	}
	return v, nil
}
