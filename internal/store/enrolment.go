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
// after the enrolling event was already seen.
// KEYS: customer hash, legacy enrolment hash, legacy enrolled hash, legacy set (see
// enrolLua), entered marker, goal marker, once marker, index.
// ARGV: reenter ms (0: not while active), journey, id, started ms, step, due ms, task,
// since µs, once value (empty for none), once TTL ms, step index.
// The entered marker holds the last entry time; its TTL only collects garbage, the
// comparison uses the caller's clock so that a virtual clock works too.
var enrol = redis.NewScript(enrolLua + indexLua + `
local j = ARGV[2]
local cur = getEnrol(KEYS[1], KEYS[2], j)
if cur and cur.id == ARGV[3] then
  return {2, ''}
end
local goal = tonumber(redis.call('GET', KEYS[6]) or '')
if goal and goal >= int(ARGV[8]) then
  return {0, ''}
end
local once = ARGV[9]
if once ~= '' and redis.call('EXISTS', KEYS[7]) == 1 then
  return {0, ''}
end
local reenter = int(ARGV[1])
if reenter > 0 then
  local last = tonumber(redis.call('GET', KEYS[5]) or '')
  if last and int(ARGV[4]) - last < reenter then
    return {0, ''}
  end
elseif once == '' and cur then
  return {0, ''}
end
local v = packEnrol({id = ARGV[3], step = ARGV[5], idx = int(ARGV[11]), since = int(ARGV[8]),
  started = int(ARGV[4]), due = int(ARGV[6]), task = ARGV[7]})
local old = ''
if cur then old = cur.task end
delEnrol(KEYS[1], KEYS[2], KEYS[3], KEYS[4], j)
redis.call('HSET', KEYS[1], '` + enrolPrefix + `' .. j, v)
local listed = {}
if reenter > 0 then
  redis.call('SET', KEYS[5], ARGV[4], 'PX', reenter)
  listed = {reenter, KEYS[5]}
end
if once ~= '' then
  redis.call('SET', KEYS[7], '1', 'PX', ARGV[10])
  listed[#listed + 1] = ARGV[10]
  listed[#listed + 1] = KEYS[7]
end
index(KEYS[8], unpack(listed))
return {1, old}
`)

// enrolKeys are the four keys of enrolLua for the customer's enrolment in journey.
func (s *Store) enrolKeys(journey, cid string) []string {
	return []string{s.customerKey(cid), s.legacyEnrolKey(journey, cid), s.legacyEnrolledKey(cid), s.legacyEnrolSetKey(cid)}
}

// Enrol starts e unless the journey's rule r forbids it or a goal event that occurred at
// or after e.Since was seen. It returns the pending task of an enrolment it replaced.
// e.Event must be empty: the pending step's task carries the enrolling event.
func (s *Store) Enrol(ctx context.Context, e Enrolment, r Rule) (EnrolOutcome, string, error) {
	if len(e.Event) > 0 {
		return Refused, "", fmt.Errorf("enrol %s in %s: an enrolment keeps no event; the step's task carries it", e.CustomerID, e.Journey)
	}
	keys := append(s.enrolKeys(e.Journey, e.CustomerID), s.enteredKey(e.Journey, e.CustomerID),
		s.goalKey(e.Journey, e.CustomerID), s.onceKey(e.Journey, e.CustomerID, r.Once), s.indexKey(e.CustomerID))
	res, err := enrol.Run(ctx, s.rdb, keys,
		r.ReenterAfter.Milliseconds(), e.Journey, e.ID, e.StartedAt.UnixMilli(), e.Step, e.Due.UnixMilli(), e.Task,
		e.Since.UnixMicro(), r.Once, OnceMemory.Milliseconds(), e.Index,
	).Slice()
	if err != nil {
		return Refused, "", fmt.Errorf("enrol %s in %s: %w", e.CustomerID, e.Journey, err)
	}
	code, _ := res[0].(int64)
	old, _ := res[1].(string)
	return EnrolOutcome(code), old, nil
}

// Enrolment returns the customer's active enrolment in the journey, or nil.
func (s *Store) Enrolment(ctx context.Context, journey, cid string) (*Enrolment, error) {
	var packed *redis.StringCmd
	var legacy *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		packed = p.HGet(ctx, s.customerKey(cid), enrolField(journey))
		legacy = p.HGetAll(ctx, s.legacyEnrolKey(journey, cid))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load enrolment of %s in %s: %w", cid, journey, err)
	}
	if err := legacy.Err(); err != nil {
		return nil, fmt.Errorf("load enrolment of %s in %s: %w", cid, journey, err)
	}
	v, err := packed.Result()
	switch {
	case err == nil:
		return unpackEnrolment(journey, cid, v)
	case !errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("load enrolment of %s in %s: %w", cid, journey, err)
	}
	return decodeLegacyEnrolment(journey, cid, legacy.Val()), nil
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
	var cust, legacy, cons, blocked, claim *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cust = p.HGetAll(ctx, s.customerKey(cid))
		legacy = p.HGetAll(ctx, s.legacyEnrolKey(journey, cid))
		cons = p.HGetAll(ctx, s.consentKey(cid))
		blocked = p.HGetAll(ctx, s.blockedKey(cid))
		claim = p.HGetAll(ctx, s.claimKey(cid, message))
		return nil
	})
	if err != nil {
		return StepState{}, fmt.Errorf("load state of %s in %s: %w", cid, journey, err)
	}
	c := decodeCustomer(cust.Val())
	en := decodeLegacyEnrolment(journey, cid, legacy.Val())
	if v, ok := c.enrolments[journey]; ok {
		if en, err = unpackEnrolment(journey, cid, v); err != nil {
			return StepState{}, err
		}
	}
	return StepState{Enrolment: en, Profile: c.profile, Consent: decodeConsent(cons.Val()),
		Blocked: blocked.Val(), Claim: decodeClaim(message, claim.Val())}, nil
}

// decodeLegacyEnrolment reads an enrolment hash of an earlier version; nil when empty.
func decodeLegacyEnrolment(journey, cid string, h map[string]string) *Enrolment {
	if h["id"] == "" {
		return nil
	}
	idx, _ := strconv.Atoi(h["idx"]) // a hint only: zero when missing
	task, ok := h["task"]
	if !ok {
		task = StepTaskID(h["id"], h["step"])
	}
	return &Enrolment{
		ID:         h["id"],
		Journey:    journey,
		CustomerID: cid,
		StartedAt:  millis(h["started"]),
		Step:       h["step"],
		Index:      idx,
		Due:        millis(h["due"]),
		Task:       task,
		Event:      json.RawMessage(h["event"]),
		Since:      micros(h["since"]),
	}
}

// Enrolments returns the customer's active enrolments, by journey.
func (s *Store) Enrolments(ctx context.Context, cid string) ([]*Enrolment, error) {
	var cust *redis.MapStringStringCmd
	var listed, legacySet *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cust = p.HGetAll(ctx, s.customerKey(cid))
		listed = p.HKeys(ctx, s.legacyEnrolledKey(cid))
		legacySet = p.SMembers(ctx, s.legacyEnrolSetKey(cid))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list enrolments of %s: %w", cid, err)
	}
	c := decodeCustomer(cust.Val())
	var out []*Enrolment
	for j, v := range c.enrolments {
		e, err := unpackEnrolment(j, cid, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	// Enrolments of earlier versions, each in its own hash.
	var legacy []string
	for _, j := range append(listed.Val(), legacySet.Val()...) {
		if _, ok := c.enrolments[j]; !ok && !slices.Contains(legacy, j) {
			legacy = append(legacy, j)
		}
	}
	if len(legacy) > 0 {
		hs := make([]*redis.MapStringStringCmd, len(legacy))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, j := range legacy {
				hs[i] = p.HGetAll(ctx, s.legacyEnrolKey(j, cid))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list enrolments of %s: %w", cid, err)
		}
		for i, j := range legacy {
			if e := decodeLegacyEnrolment(j, cid, hs[i].Val()); e != nil {
				out = append(out, e)
			}
		}
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

func (m Move) args() []any {
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

// moveLua moves journey j's enrolment (keys as in enrolLua) by the move in ARGV[n..n+6]:
// id, from, to, index, due ms, task, journey. It returns 0 when the enrolment is gone or
// elsewhere, 1 when it advanced and 2 when it ended.
const moveLua = enrolLua + `
local function move(c, l, el, ls, a, n)
  local j = a[n+6]
  local e = getEnrol(c, l, j)
  if not e or e.id ~= a[n] or e.step ~= a[n+1] then
    return 0
  end
  if a[n+2] == '' then
    delEnrol(c, l, el, ls, j)
    return 2
  end
  e.step, e.idx, e.due, e.task = a[n+2], int(a[n+3]), int(a[n+4]), a[n+5]
  putEnrol(c, l, el, ls, j, e)
  return 1
end
`

var advance = redis.NewScript(moveLua + `return move(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV, 1)`)

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
	n, err := advance.Run(ctx, s.rdb, s.enrolKeys(m.Journey, m.CustomerID), m.args()...).Int()
	if err != nil {
		return NotMoved, fmt.Errorf("advance %s in %s: %w", m.CustomerID, m.Journey, err)
	}
	return MoveResult(n), nil
}

// end deletes an enrolment if it is still the given one.
// KEYS: as in enrolLua. ARGV: id, journey.
var end = redis.NewScript(enrolLua + `
local e = getEnrol(KEYS[1], KEYS[2], ARGV[2])
if not e or e.id ~= ARGV[1] then
  return false
end
delEnrol(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2])
return e.task
`)

// End finishes the customer's enrolment id in the journey, if it is still active. It
// returns the enrolment's pending task, and false when there was no such enrolment.
func (s *Store) End(ctx context.Context, journey, cid, id string) (string, bool, error) {
	task, err := end.Run(ctx, s.rdb, s.enrolKeys(journey, cid), id, journey).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("end enrolment of %s in %s: %w", cid, journey, err)
	}
	return task, true, nil
}

// exit records a goal event and ends the enrolment it is a goal of, if that enrolment's
// event came no later. KEYS: as in enrolLua, then the goal marker and the index. ARGV: goal µs,
// journey, marker TTL ms.
var exit = redis.NewScript(enrolLua + indexLua + `
local goal = int(ARGV[1])
local prev = tonumber(redis.call('GET', KEYS[5]) or '')
if not prev or prev < goal then
  redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[3])
  index(KEYS[6], ARGV[3], KEYS[5])
end
local e = getEnrol(KEYS[1], KEYS[2], ARGV[2])
if not e or e.since > goal then
  return false
end
delEnrol(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2])
return e.task
`)

// GoalMemory is how long a goal event is remembered to refuse enrolments by events that
// occurred before it but arrive after it.
const GoalMemory = 7 * 24 * time.Hour

// Exit records that a goal event of the journey occurred at goalAt for the customer, and
// ends the active enrolment if its enrolling event occurred no later. It returns the
// pending task to cancel and whether an enrolment ended.
func (s *Store) Exit(ctx context.Context, journey, cid string, goalAt time.Time) (string, bool, error) {
	task, err := exit.Run(ctx, s.rdb, append(s.enrolKeys(journey, cid), s.goalKey(journey, cid), s.indexKey(cid)),
		goalAt.UnixMicro(), journey, GoalMemory.Milliseconds()).Text()
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
	var field, legacy *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		field = p.HGet(ctx, s.customerKey(cid), timerField(journey))
		legacy = p.Get(ctx, s.legacyTimerKey(journey, cid))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, fmt.Errorf("load timer of %s in %s: %w", cid, journey, err)
	}
	v, ferr := field.Result()
	old, lerr := legacy.Result()
	switch {
	case ferr == nil:
		return timerDue(v)
	case !errors.Is(ferr, redis.Nil):
		return time.Time{}, fmt.Errorf("load timer of %s in %s: %w", cid, journey, ferr)
	case lerr == nil:
		return legacyTimerDue(old)
	case !errors.Is(lerr, redis.Nil):
		return time.Time{}, fmt.Errorf("load timer of %s in %s: %w", cid, journey, lerr)
	}
	return time.Time{}, nil
}

// Timers returns the customer's pending timers by journey: every one in the customer's
// hash, and those that earlier versions kept for the journeys listed.
func (s *Store) Timers(ctx context.Context, cid string, journeys []string) (map[string]time.Time, error) {
	var cust *redis.MapStringStringCmd
	legacy := make([]*redis.StringCmd, len(journeys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cust = p.HGetAll(ctx, s.customerKey(cid))
		for i, j := range journeys {
			legacy[i] = p.Get(ctx, s.legacyTimerKey(j, cid))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load timers of %s: %w", cid, err)
	}
	if err := cust.Err(); err != nil {
		return nil, fmt.Errorf("load timers of %s: %w", cid, err)
	}
	out := map[string]time.Time{}
	for i, j := range journeys {
		v, err := legacy[i].Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err == nil {
			out[j], err = legacyTimerDue(v)
		}
		if err != nil {
			return nil, fmt.Errorf("load timers of %s: %w", cid, err)
		}
	}
	for j, v := range decodeCustomer(cust.Val()).timers {
		if out[j], err = timerDue(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetTimer records the customer's pending timer for a journey, due at due (whole
// seconds); the zero time clears it. A timer an earlier version kept is dropped.
func (s *Store) SetTimer(ctx context.Context, journey, cid string, due time.Time) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if due.IsZero() {
			p.HDel(ctx, s.customerKey(cid), timerField(journey))
		} else {
			p.HSet(ctx, s.customerKey(cid), timerField(journey), strconv.FormatInt(due.Unix(), 36))
		}
		p.Del(ctx, s.legacyTimerKey(journey, cid))
		return nil
	})
	if err != nil {
		return fmt.Errorf("save timer of %s in %s: %w", cid, journey, err)
	}
	return nil
}

// clearTimer deletes journey ARGV[1]'s timer only if it is still due at ARGV[2] (unix
// seconds). KEYS: customer hash, legacy timer key, which held the task ID, whose last
// part is the due time.
var clearTimer = redis.NewScript(numLua + `
local due = int(ARGV[2])
local cur
local v = redis.call('HGET', KEYS[1], '` + timerPrefix + `' .. ARGV[1])
if v then
  cur = from36(v)
else
  local old = redis.call('GET', KEYS[2])
  if old then cur = tonumber(string.match(old, ':(%d+)$') or '') end
end
if cur ~= due then
  return 0
end
redis.call('HDEL', KEYS[1], '` + timerPrefix + `' .. ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`)

// ClearTimer forgets the customer's timer for a journey if it is still the one due at
// due: a timer that fired does not clear one that an event set meanwhile.
func (s *Store) ClearTimer(ctx context.Context, journey, cid string, due time.Time) error {
	err := clearTimer.Run(ctx, s.rdb, []string{s.customerKey(cid), s.legacyTimerKey(journey, cid)}, journey, due.Unix()).Err()
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

// legacyTimerDue reads the due time from the task ID an earlier version kept,
// timer:<hash>:<unix seconds>.
func legacyTimerDue(id string) (time.Time, error) {
	n, err := strconv.ParseInt(id[strings.LastIndexByte(id, ':')+1:], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timer task %q: %w", id, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// millis and micros read the Unix times kept in hashes; a missing one is the zero time.
func millis(s string) time.Time { return unixTime(s, time.Millisecond) }
func micros(s string) time.Time { return unixTime(s, time.Microsecond) }

func unixTime(s string, unit time.Duration) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n*int64(unit)).UTC()
}
