package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Enrolment is one customer's pass through one journey.
type Enrolment struct {
	// ID is deterministic: the same enrolling event always gives the same ID.
	ID         string
	Journey    string
	CustomerID string
	StartedAt  time.Time
	// Step is the id of the step that is pending now. Progress is kept by step id, so
	// that a journey edited while customers wait (a step inserted or removed) leaves them
	// at the step they were waiting for.
	Step string
	// Index is where Step was in the journey when it was scheduled: a hint for going on
	// when an edit removed the step.
	Index int
	// Due is when that step is due.
	Due time.Time
	// Task is the scheduled task ID of that step, for cancelling it.
	Task string
	// Event is the enrolling event as conditions and templates see it (JSON), held only
	// by enrolments that earlier versions made: the pending step's task carries it now,
	// and Enrol refuses to keep one.
	Event json.RawMessage
	// Since is when the enrolling event occurred. A goal event that occurred at or after
	// it ends the enrolment, or prevents it, whichever order the two are processed in.
	Since time.Time
}

// EnrolOutcome says what Enrol did.
type EnrolOutcome int

// The outcomes of Enrol.
const (
	// Refused: the journey's rule or a goal event keeps the customer out; nothing changed.
	Refused EnrolOutcome = iota
	// Started: the enrolment was created. Replaced holds the pending task of the
	// enrolment it replaced, if any, to cancel.
	Started
	// AlreadyStarted: this very enrolment (same ID) exists: a retried event. The caller
	// should make sure its pending step is scheduled.
	AlreadyStarted
)

// Rule is a journey's re-entry rule.
type Rule struct {
	// ReenterAfter zero: never while an enrolment is active. Otherwise: at most one entry
	// per that period; an older active enrolment is replaced.
	ReenterAfter time.Duration
	// Once, when set, is the value of the journey's once_per: an enrolment for a value
	// seen before (within OnceMemory) is refused, and one for a new value replaces the
	// active enrolment.
	Once string
}

// OnceMemory is how long a once_per value is remembered.
const OnceMemory = 90 * 24 * time.Hour

// enrol creates an enrolment unless the journey's rule forbids it, or a goal event at or
// after the enrolling event was already seen. It answers {outcome, replaced task}.
// The entered marker holds the last entry time; its TTL only collects garbage, the
// comparison uses the caller's clock so that a virtual clock works too.
var enrol = redis.NewScript(enrolLua + indexLua + `
local c, entered, goalKey, onceKey, idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local reenter, j, id, started, step, due, task, since, once, onceTTL, stepIdx =
  int(ARGV[1]), ARGV[2], ARGV[3], int(ARGV[4]), ARGV[5], int(ARGV[6]), ARGV[7], int(ARGV[8]), ARGV[9], ARGV[10], int(ARGV[11])
local cur = getEnrol(c, j)
if cur and cur.id == id then
  return {2, ''}
end
local goal = tonumber(redis.call('GET', goalKey) or '')
if goal and goal >= since then
  return {0, ''}
end
if once ~= '' and redis.call('EXISTS', onceKey) == 1 then
  return {0, ''}
end
if reenter > 0 then
  local last = tonumber(redis.call('GET', entered) or '')
  if last and started - last < reenter then
    return {0, ''}
  end
elseif once == '' and cur then
  return {0, ''}
end
local v = packEnrol({id = id, step = step, idx = stepIdx, since = since, started = started, due = due, task = task})
local old = ''
if cur then old = cur.task end
delEnrol(c, j)
redis.call('HSET', c, '` + enrolPrefix + `' .. j, v)
local listed = {}
if reenter > 0 then
  redis.call('SET', entered, started, 'PX', reenter)
  listed = {reenter, entered}
end
if once ~= '' then
  redis.call('SET', onceKey, '1', 'PX', onceTTL)
  listed[#listed + 1] = onceTTL
  listed[#listed + 1] = onceKey
end
index(idx, unpack(listed))
return {1, old}
`)

// enrolCall is enrol's arguments.
type enrolCall struct {
	customer, entered, goal, once, index string
	reenter                              time.Duration
	journey, id                          string
	started                              time.Time
	step                                 string
	due                                  time.Time
	task                                 string
	since                                time.Time
	onceValue                            string
	stepIndex                            int
}

func (c enrolCall) keys() []string { return []string{c.customer, c.entered, c.goal, c.once, c.index} }
func (c enrolCall) argv() []any {
	return []any{c.reenter.Milliseconds(), c.journey, c.id, c.started.UnixMilli(), c.step, c.due.UnixMilli(), c.task,
		c.since.UnixMicro(), c.onceValue, OnceMemory.Milliseconds(), c.stepIndex}
}

// Enrol starts e unless the journey's rule r forbids it or a goal event that occurred at
// or after e.Since was seen. It returns the pending task of an enrolment it replaced.
// e.Event must be empty: the pending step's task carries the enrolling event.
func (s *Store) Enrol(ctx context.Context, e Enrolment, r Rule) (EnrolOutcome, string, error) {
	if len(e.Event) > 0 {
		return Refused, "", fmt.Errorf("enrol %s in %s: an enrolment keeps no event; the step's task carries it", e.CustomerID, e.Journey)
	}
	cid := e.CustomerID
	res, err := s.run(ctx, enrol, enrolCall{customer: s.customerKey(cid), entered: s.enteredKey(e.Journey, cid),
		goal: s.goalKey(e.Journey, cid), once: s.onceKey(e.Journey, cid, r.Once), index: s.indexKey(cid),
		reenter: r.ReenterAfter, journey: e.Journey, id: e.ID, started: e.StartedAt, step: e.Step, due: e.Due,
		task: e.Task, since: e.Since, onceValue: r.Once, stepIndex: e.Index}).Result()
	if err != nil {
		return Refused, "", fmt.Errorf("enrol %s in %s: %w", cid, e.Journey, err)
	}
	outcome, old, err := decodeEnrolled(res)
	if err != nil {
		return Refused, "", fmt.Errorf("enrol %s in %s: %w", cid, e.Journey, err)
	}
	return outcome, old, nil
}

// decodeEnrolled reads enrol's answer.
func decodeEnrolled(v any) (EnrolOutcome, string, error) {
	l, err := replyList(v, 2)
	if err != nil {
		return Refused, "", err
	}
	code, err := replyInt(l[0])
	if err != nil {
		return Refused, "", err
	}
	if code < int64(Refused) || code > int64(AlreadyStarted) {
		return Refused, "", fmt.Errorf("script answered outcome %d", code)
	}
	old, err := replyString(l[1])
	return EnrolOutcome(code), old, err
}

// Enrolment returns the customer's active enrolment in the journey, or nil.
func (s *Store) Enrolment(ctx context.Context, journey, cid string) (*Enrolment, error) {
	f, err := s.rdb.HMGet(ctx, s.customerKey(cid), enrolField(journey), eventPrefix+journey).Result()
	if err != nil {
		return nil, fmt.Errorf("load enrolment of %s in %s: %w", cid, journey, err)
	}
	packed, ok := f[0].(string)
	if !ok {
		return nil, nil
	}
	en, err := unpackEnrolment(journey, cid, packed)
	if err != nil {
		return nil, err
	}
	if ev, ok := f[1].(string); ok {
		en.Event = json.RawMessage(ev)
	}
	return en, nil
}

// StepState is what a due step needs to know about its customer.
type StepState struct {
	Enrolment *Enrolment // nil when the customer has no enrolment in the journey
	Profile   map[string]any
	Consent   map[string]bool
	// Blocked maps the channels a send found unreachable to a digest of the address it
	// was unreachable at (see AddressDigest).
	Blocked map[string]string
	// Claim is the send claim of the step's message.
	Claim Claim
}

// LoadStepState reads the customer's enrolment in the journey, profile, consent, blocked
// channels and the claim of message in one round trip.
func (s *Store) LoadStepState(ctx context.Context, journey, cid, message string) (StepState, error) {
	var cust, cons, blocked, claim *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cust = p.HGetAll(ctx, s.customerKey(cid))
		cons = p.HGetAll(ctx, s.consentKey(cid))
		blocked = p.HGetAll(ctx, s.blockedKey(cid))
		claim = p.HGetAll(ctx, s.claimKey(cid, message))
		return nil
	})
	if err != nil {
		return StepState{}, fmt.Errorf("load state of %s in %s: %w", cid, journey, err)
	}
	c := decodeCustomer(cust.Val())
	en, err := c.enrolment(journey, cid)
	if err != nil {
		return StepState{}, err
	}
	return StepState{Enrolment: en, Profile: c.profile, Consent: decodeConsent(cons.Val()),
		Blocked: blocked.Val(), Claim: decodeClaim(message, claim.Val())}, nil
}

// enrolment is the customer's enrolment in journey, with the event it keeps, or nil.
func (c customerHash) enrolment(journey, cid string) (*Enrolment, error) {
	v, ok := c.enrolments[journey]
	if !ok {
		return nil, nil
	}
	en, err := unpackEnrolment(journey, cid, v)
	if err != nil {
		return nil, err
	}
	if ev, ok := c.events[journey]; ok {
		en.Event = json.RawMessage(ev)
	}
	return en, nil
}

// Enrolments returns the customer's active enrolments, by journey.
func (s *Store) Enrolments(ctx context.Context, cid string) ([]*Enrolment, error) {
	h, err := s.rdb.HGetAll(ctx, s.customerKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("list enrolments of %s: %w", cid, err)
	}
	c := decodeCustomer(h)
	out := make([]*Enrolment, 0, len(c.enrolments))
	for j := range c.enrolments {
		e, err := c.enrolment(j, cid)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *Enrolment) int { return strings.Compare(a.Journey, b.Journey) })
	return out, nil
}

// Move says where an enrolment goes from the step it is at: to the next step, or to its
// end. It applies only if the enrolment is still that one, at that step.
type Move struct {
	Journey, CustomerID string
	// Enrolment is the enrolment's id and From the id of the step it must be at.
	Enrolment, From string
	// To is the id of the next step; empty ends the enrolment.
	To string
	// Index is To's position in the journey, kept as a hint.
	Index int
	// Due is when To is due, and Task its scheduled task.
	Due  time.Time
	Task string
}

// argv is the move as moveLua reads it.
func (m Move) argv() []any {
	return []any{m.Enrolment, m.From, m.To, m.Index, m.Due.UnixMilli(), m.Task, m.Journey}
}

// StepTaskID is the scheduled task ID of an enrolment's step. An enrolment whose pending
// task is named so keeps no task (see unpackEnrolment); any other task (a step held back)
// is kept, and so are those of earlier versions.
func StepTaskID(enrolment, step string) string { return "step:" + enrolment + ":" + step }

// ParseStepTaskID reads the enrolment and the step back from a step's task ID, also of a
// step held back, whose ID goes on after an @ (step ids have none).
func ParseStepTaskID(id string) (enrolment, step string, ok bool) {
	rest, ok := strings.CutPrefix(id, "step:")
	if !ok {
		return "", "", false
	}
	enrolment, step, ok = strings.Cut(rest, ":")
	step, _, _ = strings.Cut(step, "@")
	return enrolment, step, ok && enrolment != "" && step != ""
}

// moveLua moves journey j's enrolment in the customer's hash c by the move in
// ARGV[n..n+6]: id, from, to, index, due ms, task, journey. It returns 0 when the
// enrolment is gone or elsewhere, 1 when it advanced and 2 when it ended.
const moveLua = enrolLua + `
local function move(c, a, n)
  local id, from, to, toIdx, due, task, j = a[n], a[n+1], a[n+2], a[n+3], a[n+4], a[n+5], a[n+6]
  local e = getEnrol(c, j)
  if not e or e.id ~= id or e.step ~= from then
    return 0
  end
  if to == '' then
    delEnrol(c, j)
    return 2
  end
  e.step, e.idx, e.due, e.task = to, int(toIdx), int(due), task
  putEnrol(c, j, e)
  return 1
end
`

var advance = redis.NewScript(moveLua + `
local c = KEYS[1]
return move(c, ARGV, 1)
`)

// advanceCall is advance's arguments.
type advanceCall struct {
	customer string
	move     Move
}

func (c advanceCall) keys() []string { return []string{c.customer} }
func (c advanceCall) argv() []any    { return c.move.argv() }

// decodeMoved reads a move's answer.
func decodeMoved(v any) (MoveResult, error) {
	n, err := replyInt(v)
	if err != nil {
		return NotMoved, err
	}
	if n < int64(NotMoved) || n > int64(Ended) {
		return NotMoved, fmt.Errorf("script answered move %d", n)
	}
	return MoveResult(n), nil
}

// MoveResult says what a Move did.
type MoveResult int

// The results of a Move.
const (
	// NotMoved: the enrolment ended or moved on meanwhile; nothing changed.
	NotMoved MoveResult = iota
	// Advanced: the enrolment is at the next step.
	Advanced
	// Ended: the enrolment ran its last step and is gone.
	Ended
)

// Advance applies m on its own, without a message to record: a step held back (m.To is
// m.From, with a new due time and task) or a message an earlier attempt recorded.
func (s *Store) Advance(ctx context.Context, m Move) (MoveResult, error) {
	res, err := s.run(ctx, advance, advanceCall{customer: s.customerKey(m.CustomerID), move: m}).Result()
	if err == nil {
		var r MoveResult
		if r, err = decodeMoved(res); err == nil {
			return r, nil
		}
	}
	return NotMoved, fmt.Errorf("advance %s in %s: %w", m.CustomerID, m.Journey, err)
}

// end deletes an enrolment if it is still the given one, and answers its task, or nil.
var end = redis.NewScript(enrolLua + `
local c = KEYS[1]
local id, j = ARGV[1], ARGV[2]
local e = getEnrol(c, j)
if not e or e.id ~= id then
  return false
end
delEnrol(c, j)
return e.task
`)

// endCall is end's arguments.
type endCall struct{ customer, id, journey string }

func (c endCall) keys() []string { return []string{c.customer} }
func (c endCall) argv() []any    { return []any{c.id, c.journey} }

// End finishes the customer's enrolment id in the journey, if it is still active. It
// returns the enrolment's pending task, and false when there was no such enrolment.
func (s *Store) End(ctx context.Context, journey, cid, id string) (string, bool, error) {
	task, err := s.run(ctx, end, endCall{customer: s.customerKey(cid), id: id, journey: journey}).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("end enrolment of %s in %s: %w", cid, journey, err)
	}
	return task, true, nil
}

// exit records a goal event and ends the enrolment it is a goal of, if that enrolment's
// event came no later. It answers the ended enrolment's task, or nil.
var exit = redis.NewScript(enrolLua + indexLua + `
local c, goalKey, idx = KEYS[1], KEYS[2], KEYS[3]
local goal, j, goalTTL = int(ARGV[1]), ARGV[2], ARGV[3]
local prev = tonumber(redis.call('GET', goalKey) or '')
if not prev or prev < goal then
  redis.call('SET', goalKey, ARGV[1], 'PX', goalTTL)
  index(idx, goalTTL, goalKey)
end
local e = getEnrol(c, j)
if not e or e.since > goal then
  return false
end
delEnrol(c, j)
return e.task
`)

// exitCall is exit's arguments.
type exitCall struct {
	customer, goal, index string
	goalAt                time.Time
	journey               string
}

func (c exitCall) keys() []string { return []string{c.customer, c.goal, c.index} }
func (c exitCall) argv() []any {
	return []any{c.goalAt.UnixMicro(), c.journey, GoalMemory.Milliseconds()}
}

// GoalMemory is how long a goal event is remembered to refuse enrolments by events that
// occurred before it but arrive after it.
const GoalMemory = 7 * 24 * time.Hour

// Exit records that a goal event of the journey occurred at goalAt for the customer, and
// ends the active enrolment if its enrolling event occurred no later. It returns the
// pending task to cancel and whether an enrolment ended.
func (s *Store) Exit(ctx context.Context, journey, cid string, goalAt time.Time) (string, bool, error) {
	task, err := s.run(ctx, exit, exitCall{customer: s.customerKey(cid), goal: s.goalKey(journey, cid),
		index: s.indexKey(cid), goalAt: goalAt, journey: journey}).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("exit %s from %s: %w", cid, journey, err)
	}
	return task, true, nil
}

// Timer returns when the customer's pending timer for a journey is due; the zero time
// when there is none.
func (s *Store) Timer(ctx context.Context, journey, cid string) (time.Time, error) {
	v, err := s.rdb.HGet(ctx, s.customerKey(cid), timerField(journey)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("load timer of %s in %s: %w", cid, journey, err)
	}
	return timerDue(v)
}

// Timers returns the customer's pending timers by journey.
func (s *Store) Timers(ctx context.Context, cid string) (map[string]time.Time, error) {
	h, err := s.rdb.HGetAll(ctx, s.customerKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load timers of %s: %w", cid, err)
	}
	out := map[string]time.Time{}
	for j, v := range decodeCustomer(h).timers {
		if out[j], err = timerDue(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetTimer records the customer's pending timer for a journey, due at due (whole
// seconds); the zero time clears it.
func (s *Store) SetTimer(ctx context.Context, journey, cid string, due time.Time) error {
	var err error
	if due.IsZero() {
		err = s.rdb.HDel(ctx, s.customerKey(cid), timerField(journey)).Err()
	} else {
		err = s.rdb.HSet(ctx, s.customerKey(cid), timerField(journey), strconv.FormatInt(due.Unix(), 36)).Err()
	}
	if err != nil {
		return fmt.Errorf("save timer of %s in %s: %w", cid, journey, err)
	}
	return nil
}

// clearTimer deletes a journey's timer only if it is still due at the given unix second.
var clearTimer = redis.NewScript(numLua + `
local c = KEYS[1]
local j, due = ARGV[1], int(ARGV[2])
local v = redis.call('HGET', c, '` + timerPrefix + `' .. j)
if not v or from36(v) ~= due then
  return 0
end
redis.call('HDEL', c, '` + timerPrefix + `' .. j)
return 1
`)

// clearTimerCall is clearTimer's arguments.
type clearTimerCall struct {
	customer, journey string
	due               time.Time
}

func (c clearTimerCall) keys() []string { return []string{c.customer} }
func (c clearTimerCall) argv() []any    { return []any{c.journey, c.due.Unix()} }

// ClearTimer forgets the customer's timer for a journey if it is still the one due at
// due: a timer that fired does not clear one that an event set meanwhile.
func (s *Store) ClearTimer(ctx context.Context, journey, cid string, due time.Time) error {
	res, err := s.run(ctx, clearTimer, clearTimerCall{customer: s.customerKey(cid), journey: journey, due: due}).Result()
	if err == nil {
		_, err = replyInt(res)
	}
	if err != nil {
		return fmt.Errorf("clear timer of %s in %s: %w", cid, journey, err)
	}
	return nil
}

// timerDue reads a timer field: unix seconds in base 36.
func timerDue(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 36, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timer due %q: %w", v, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// millis reads a Unix time in milliseconds kept in a hash; a missing one is the zero time.
func millis(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
