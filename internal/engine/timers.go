package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rapporthq/rapport/workflows"
)

// Date and inactivity triggers are one timer per customer and journey: a task due when the
// trigger fires, whose ID carries the due time. Store keeps the due time of the timer in
// force, which names its task, so moving a timer schedules the new one, points to it, then
// cancels the old one; a timer that fires but is no longer the one in force does nothing.
// Nothing ever scans customers.

// timerPayload is the payload of a timer task. Its due time is in its ID; timers of
// earlier versions carry it in "d" too, which is not read.
type timerPayload struct {
	// Format is the payload's format; zero is TaskFormat 1.
	Format   int    `json:"v,omitempty"`
	Journey  string `json:"j"`
	Customer string `json:"c"`
}

// timerTaskID is the task ID of the customer's timer of journey due at due; "" for the
// zero time, no timer.
func timerTaskID(journey, cid string, due time.Time) string {
	if due.IsZero() {
		return ""
	}
	return "timer:" + shortHash(journey, cid) + ":" + strconv.FormatInt(due.Unix(), 10)
}

// timerDue reads the due time back from a timer task ID.
func timerDue(id string) time.Time {
	i := strings.LastIndexByte(id, ':')
	n, err := strconv.ParseInt(id[i+1:], 10, 64)
	if i < 0 || err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// setTimer makes the timer due at due (zero: none) the one in force for the customer in
// journey j.
func (e *Engine) setTimer(ctx context.Context, j *workflows.Journey, cid string, due time.Time) error {
	curDue, err := e.cfg.Store.Timer(ctx, j.ID, cid)
	if err != nil {
		return err
	}
	id, cur := timerTaskID(j.ID, cid, due), timerTaskID(j.ID, cid, curDue)
	if id == cur {
		return nil
	}
	if id != "" {
		payload, err := json.Marshal(timerPayload{Journey: j.ID, Customer: cid})
		if err != nil {
			return err
		}
		if err := e.cfg.Scheduler.Schedule(ctx, Task{Kind: KindTimer, ID: id, Payload: payload, At: due}); err != nil {
			return err
		}
	}
	if err := e.cfg.Store.SetTimer(ctx, j.ID, cid, due); err != nil {
		return err
	}
	if cur != "" {
		return e.cfg.Scheduler.Cancel(ctx, cur)
	}
	return nil
}

// armInactivity (re)starts the customer's inactivity clock of j after an event that
// occurred at occurred. An older event (sent late) never moves the clock back.
func (e *Engine) armInactivity(ctx context.Context, j *workflows.Journey, cid string, occurred time.Time) error {
	due := occurred.Add(j.Trigger.After)
	if t := due.Truncate(time.Second); t.Before(due) {
		due = t.Add(time.Second) // timers keep whole seconds; never fire early
	}
	cur, err := e.cfg.Store.Timer(ctx, j.ID, cid)
	if err != nil {
		return err
	}
	if !cur.IsZero() && !due.After(cur) {
		return nil
	}
	return e.setTimer(ctx, j, cid, due)
}

// armDate sets the customer's date timer of j from the profile: the next time the date
// attribute falls, at the journey's local time in the customer's time zone. A profile
// without a valid date clears the timer.
func (e *Engine) armDate(ctx context.Context, j *workflows.Journey, cid string, profile map[string]any, now time.Time) error {
	due, ok := NextDate(profile[j.Trigger.DateAttr], j.Trigger.AtHour, j.Trigger.AtMinute, j.Trigger.AtSecond, e.location(profile), now)
	if !ok {
		due = time.Time{}
	}
	return e.setTimer(ctx, j, cid, due)
}

// location is the customer's time zone, or the default.
func (e *Engine) location(profile map[string]any) *time.Location {
	return Location(profile, e.cfg.Location)
}

// Location returns the time zone of a profile's timezone attribute, or def when it has
// none or an unknown one.
func Location(profile map[string]any, def *time.Location) *time.Location {
	if name, _ := profile["timezone"].(string); name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return def
}

// NextDate returns the first moment strictly after now when a yearly date (YYYY-MM-DD or
// MM-DD) falls at that local time in loc. 29 February falls on 28 February in other
// years. The time of day is hour:minute:second. A local time that does not exist that day (a daylight-saving gap) is moved
// forward by the gap, so the date is neither skipped nor doubled.
func NextDate(value any, hour, minute, second int, loc *time.Location, now time.Time) (time.Time, bool) {
	month, day, ok := parseDate(value)
	if !ok {
		return time.Time{}, false
	}
	year := now.In(loc).Year()
	for y := year; y <= year+1; y++ {
		d := day
		if month == time.February && day == 29 && !isLeap(y) {
			d = 28
		}
		t := time.Date(y, month, d, hour, minute, second, 0, loc)
		if t.Hour() != hour || t.Minute() != minute {
			// The wall time does not exist that day: move forward by the size of the gap.
			_, before := t.Zone()
			_, after := t.Add(12 * time.Hour).Zone()
			t = t.Add(time.Duration(after-before) * time.Second)
		}
		if t.After(now) {
			return t, true
		}
	}
	return time.Time{}, false // unreachable: next year's date is always after now
}

func parseDate(value any) (time.Month, int, bool) {
	var s string
	switch v := value.(type) {
	case string:
		s = strings.TrimSpace(v)
	case time.Time:
		return v.Month(), v.Day(), true
	default:
		return 0, 0, false
	}
	if len(s) == len("01-02") {
		s = "2000-" + s // a leap year, so 02-29 parses
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, 0, false
	}
	return t.Month(), t.Day(), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// HandleTimer runs a due date or inactivity timer: it enrols the customer, then re-arms a
// date timer for next year. A timer that is no longer the one in force does nothing. An
// inactivity timer that falls due while events accepted before it still wait in the queue
// (Config.Backlog) is moved a little later instead, to be looked at again.
func (e *Engine) HandleTimer(ctx context.Context, id string, payload []byte) error {
	var p timerPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return permanent("timer payload: %v", err)
	}
	if err := checkFormat(id, p.Format); err != nil {
		return err
	}
	due := timerDue(id)
	if due.IsZero() {
		return permanent("timer task %q carries no due time", id)
	}
	cur, err := e.cfg.Store.Timer(ctx, p.Journey, p.Customer)
	if err != nil {
		return err
	}
	if timerTaskID(p.Journey, p.Customer, cur) != id {
		return nil // moved or cleared since it was scheduled
	}
	j, ok := e.Journeys().Get(p.Journey)
	if !ok || j.Trigger.Kind == workflows.TriggerEvent {
		return e.cfg.Store.ClearTimer(ctx, p.Journey, p.Customer, due)
	}
	now := e.cfg.Clock.Now()
	if j.Trigger.Kind == workflows.TriggerInactivity && e.cfg.Backlog != nil {
		since, waiting, err := e.cfg.Backlog.OldestWaiting(ctx)
		if err != nil {
			return err
		}
		if waiting && !since.After(due) {
			// An event accepted before the customer had been quiet long enough waits in
			// the queue, and may be one that restarts the clock: look again once the
			// queue has had about as long again to take it. That event, when it comes,
			// moves the timer on by itself.
			again := now.Add(min(max(now.Sub(since), time.Second), time.Minute))
			return e.setTimer(ctx, j, p.Customer, again.Truncate(time.Second).Add(time.Second))
		}
	}
	profile, err := e.cfg.Store.Profile(ctx, p.Customer)
	if err != nil {
		return err
	}
	ev := workflows.EventEnv{ID: id, Type: string(j.Trigger.Kind), CustomerID: p.Customer, OccurredAt: due,
		Data: map[string]any{}}
	if err := e.enrol(ctx, j, p.Customer, workflows.Env{Event: ev, Customer: profile, Now: now}); err != nil {
		return fmt.Errorf("enrol on timer: %w", err)
	}
	if j.Trigger.Kind == workflows.TriggerDate {
		return e.armDate(ctx, j, p.Customer, profile, maxTime(now, due))
	}
	return e.cfg.Store.ClearTimer(ctx, p.Journey, p.Customer, due)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
