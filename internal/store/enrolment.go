package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// Event is the enrolling event as conditions and templates see it (JSON). Enrol
	// keeps it only when set: the engine leaves it to the pending step's task, and only
	// enrolments made by earlier versions hold one.
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

// enrol creates an enrolment unless the journey's re-entry rule forbids it, or a goal
// event at or after the enrolling event was already seen.
// KEYS: enrolment hash, entered marker, customer's enrolled hash, goal marker, once marker.
// ARGV: reenter ms (0: not while active), journey, id, started ms, step, due ms, task,
// event, since µs, once value (empty for none), once TTL ms, step index.
// The entered marker holds the last entry time; its TTL only collects garbage, the
// comparison uses the caller's clock so that a virtual clock works too.
var enrol = redis.NewScript(taskLua + `
local cur = redis.call('HGET', KEYS[1], 'id')
if cur == ARGV[3] then
  return {2, ''}
end
local goal = tonumber(redis.call('GET', KEYS[4]) or '')
if goal and goal >= tonumber(ARGV[9]) then
  return {0, ''}
end
local once = ARGV[10]
if once ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then
  return {0, ''}
end
local reenter = tonumber(ARGV[1])
if reenter > 0 then
  local last = tonumber(redis.call('GET', KEYS[2]) or '')
  if last and tonumber(ARGV[4]) - last < reenter then
    return {0, ''}
  end
elseif once == '' and cur then
  return {0, ''}
end
local old = taskOf(KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[3], 'started', ARGV[4], 'step', ARGV[5], 'idx', ARGV[12], 'due', ARGV[6], 'since', ARGV[9])
setTask(KEYS[1], ARGV[3], ARGV[5], ARGV[7])
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'event', ARGV[8]) -- empty: the step's task carries it
end
redis.call('HSET', KEYS[3], ARGV[2], '1')
if reenter > 0 then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', reenter)
end
if once ~= '' then
  redis.call('SET', KEYS[5], '1', 'PX', ARGV[11])
end
return {1, old}
`)

// Enrol starts e unless the journey's rule r forbids it or a goal event that occurred at
// or after e.Since was seen. It returns the pending task of an enrolment it replaced.
func (s *Store) Enrol(ctx context.Context, e Enrolment, r Rule) (EnrolOutcome, string, error) {
	res, err := enrol.Run(ctx, s.rdb,
		[]string{s.enrolKey(e.Journey, e.CustomerID), s.enteredKey(e.Journey, e.CustomerID), s.enrolledKey(e.CustomerID),
			s.goalKey(e.Journey, e.CustomerID), s.onceKey(e.Journey, e.CustomerID, r.Once)},
		r.ReenterAfter.Milliseconds(), e.Journey, e.ID, e.StartedAt.UnixMilli(), e.Step, e.Due.UnixMilli(), e.Task,
		string(e.Event), e.Since.UnixMicro(), r.Once, OnceMemory.Milliseconds(), e.Index,
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
	h, err := s.rdb.HGetAll(ctx, s.enrolKey(journey, cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load enrolment of %s in %s: %w", cid, journey, err)
	}
	return decodeEnrolment(journey, cid, h), nil
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
	var en, prof, cons, blocked, claim *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		en = p.HGetAll(ctx, s.enrolKey(journey, cid))
		prof = p.HGetAll(ctx, s.customerKey(cid))
		cons = p.HGetAll(ctx, s.consentKey(cid))
		blocked = p.HGetAll(ctx, s.blockedKey(cid))
		claim = p.HGetAll(ctx, s.claimKey(cid, message))
		return nil
	})
	if err != nil {
		return StepState{}, fmt.Errorf("load state of %s in %s: %w", cid, journey, err)
	}
	profile := make(map[string]any, len(prof.Val()))
	for k, v := range prof.Val() {
		profile[k] = decodeValue(v)
	}
	return StepState{Enrolment: decodeEnrolment(journey, cid, en.Val()), Profile: profile, Consent: decodeConsent(cons.Val()),
		Blocked: blocked.Val(), Claim: decodeClaim(message, claim.Val())}, nil
}

func decodeEnrolment(journey, cid string, h map[string]string) *Enrolment {
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

// Enrolments returns the customer's active enrolments.
func (s *Store) Enrolments(ctx context.Context, cid string) ([]*Enrolment, error) {
	var now, legacy *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		now = p.HKeys(ctx, s.enrolledKey(cid))
		legacy = p.SMembers(ctx, s.legacyEnrolSetKey(cid))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list enrolments of %s: %w", cid, err)
	}
	journeys := now.Val()
	for _, j := range legacy.Val() {
		if !slices.Contains(journeys, j) {
			journeys = append(journeys, j)
		}
	}
	var out []*Enrolment
	for _, j := range journeys {
		e, err := s.Enrolment(ctx, j, cid)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
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
// task is named so keeps no task field (about 50 bytes of Redis less per pending step);
// any other task (a step held back) is kept, and so are those of earlier versions.
func StepTaskID(enrolment, step string) string { return "step:" + enrolment + ":" + step }

// taskLua reads (taskOf) and writes (setTask) the pending task of enrolment hash k: a
// task named by StepTaskID is not stored.
const taskLua = `
local function taskOf(k)
  local f = redis.call('HMGET', k, 'task', 'id', 'step')
  if f[1] then return f[1] end
  if not f[2] then return '' end
  return 'step:' .. f[2] .. ':' .. (f[3] or '')
end
local function setTask(k, id, step, task)
  if task == 'step:' .. id .. ':' .. step then
    redis.call('HDEL', k, 'task')
  else
    redis.call('HSET', k, 'task', task)
  end
end
`

// unlistLua takes journey j off the customer's enrolled hash ek and the legacy set lk.
const unlistLua = `
local function unlist(ek, lk, j)
  redis.call('HDEL', ek, j)
  redis.call('SREM', lk, j)
end
`

// moveLua moves the enrolment of ek (customer's enrolled hash sk, legacy set lk) by the move in
// ARGV[n..n+6]: id, from, to, index, due ms, task, journey. It sets moved to 0 when the
// enrolment is gone or elsewhere, 1 when it advanced and 2 when it ended.
const moveLua = unlistLua + taskLua + `
local function move(ek, sk, lk, a, n)
  if redis.call('HGET', ek, 'id') ~= a[n] or redis.call('HGET', ek, 'step') ~= a[n+1] then
    return 0
  end
  if a[n+2] == '' then
    redis.call('DEL', ek)
    unlist(sk, lk, a[n+6])
    return 2
  end
  redis.call('HSET', ek, 'step', a[n+2], 'idx', a[n+3], 'due', a[n+4])
  setTask(ek, a[n], a[n+2], a[n+5])
  return 1
end
`

var advance = redis.NewScript(moveLua + `return move(KEYS[1], KEYS[2], KEYS[3], ARGV, 1)`)

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
	n, err := advance.Run(ctx, s.rdb, []string{s.enrolKey(m.Journey, m.CustomerID), s.enrolledKey(m.CustomerID),
		s.legacyEnrolSetKey(m.CustomerID)}, m.args()...).Int()
	if err != nil {
		return NotMoved, fmt.Errorf("advance %s in %s: %w", m.CustomerID, m.Journey, err)
	}
	return MoveResult(n), nil
}

// end deletes an enrolment if it is still the given one.
// KEYS: enrolment hash, customer's enrolled hash, legacy set. ARGV: id, journey.
var end = redis.NewScript(unlistLua + taskLua + `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return false
end
local task = taskOf(KEYS[1])
redis.call('DEL', KEYS[1])
unlist(KEYS[2], KEYS[3], ARGV[2])
return task
`)

// End finishes the customer's enrolment id in the journey, if it is still active. It
// returns the enrolment's pending task, and false when there was no such enrolment.
func (s *Store) End(ctx context.Context, journey, cid, id string) (string, bool, error) {
	task, err := end.Run(ctx, s.rdb, []string{s.enrolKey(journey, cid), s.enrolledKey(cid), s.legacyEnrolSetKey(cid)},
		id, journey).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("end enrolment of %s in %s: %w", cid, journey, err)
	}
	return task, true, nil
}

// Timer returns the task ID of the customer's pending timer for a journey, "" if none.
func (s *Store) Timer(ctx context.Context, journey, cid string) (string, error) {
	v, err := s.rdb.Get(ctx, s.timerKey(journey, cid)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("load timer of %s in %s: %w", cid, journey, err)
	}
	return v, nil
}

// SetTimer records task as the customer's pending timer for a journey; "" clears it.
func (s *Store) SetTimer(ctx context.Context, journey, cid, task string) error {
	var err error
	if task == "" {
		err = s.rdb.Del(ctx, s.timerKey(journey, cid)).Err()
	} else {
		err = s.rdb.Set(ctx, s.timerKey(journey, cid), task, 0).Err()
	}
	if err != nil {
		return fmt.Errorf("save timer of %s in %s: %w", cid, journey, err)
	}
	return nil
}

// exit records a goal event and ends the enrolment it is a goal of, if that enrolment's
// event came no later. KEYS: enrolment hash, customer's enrolled hash, goal marker, legacy
// set. ARGV: goal µs, journey, marker TTL ms.
var exit = redis.NewScript(unlistLua + taskLua + `
local goal = tonumber(ARGV[1])
local prev = tonumber(redis.call('GET', KEYS[3]) or '')
if not prev or prev < goal then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
end
local since = tonumber(redis.call('HGET', KEYS[1], 'since') or '')
if not since or since > goal then
  return false
end
local task = taskOf(KEYS[1])
redis.call('DEL', KEYS[1])
unlist(KEYS[2], KEYS[4], ARGV[2])
return task
`)

// GoalMemory is how long a goal event is remembered to refuse enrolments by events that
// occurred before it but arrive after it.
const GoalMemory = 7 * 24 * time.Hour

// Exit records that a goal event of the journey occurred at goalAt for the customer, and
// ends the active enrolment if its enrolling event occurred no later. It returns the
// pending task to cancel and whether an enrolment ended.
func (s *Store) Exit(ctx context.Context, journey, cid string, goalAt time.Time) (string, bool, error) {
	task, err := exit.Run(ctx, s.rdb, []string{s.enrolKey(journey, cid), s.enrolledKey(cid), s.goalKey(journey, cid),
		s.legacyEnrolSetKey(cid)},
		goalAt.UnixMicro(), journey, GoalMemory.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("exit %s from %s: %w", cid, journey, err)
	}
	return task, true, nil
}

// clearTimer deletes the timer pointer only if it still names the given task.
var clearTimer = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// ClearTimer forgets the customer's timer for a journey if it is still task: a timer that
// fired does not clear one that an event set meanwhile.
func (s *Store) ClearTimer(ctx context.Context, journey, cid, task string) error {
	if err := clearTimer.Run(ctx, s.rdb, []string{s.timerKey(journey, cid)}, task).Err(); err != nil {
		return fmt.Errorf("clear timer of %s in %s: %w", cid, journey, err)
	}
	return nil
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
