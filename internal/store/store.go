package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
)

// Store reads and writes Rapport's state. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	// replicas is how many replicas must acknowledge a hand-over, within replicaWait,
	// before the message may go out (see WaitForReplicas).
	replicas    int
	replicaWait time.Duration
}

// Option adjusts a Store.
type Option func(*Store)

// WaitForReplicas makes every hand-over wait until n replicas of the Redis master have its
// mark, for up to timeout (Redis WAIT, on the connection that wrote it), and fail when
// fewer had it: the message then is not sent, and is retried. Replication is
// asynchronous, so without this a failover forgets the hand-overs of its last moment and
// the new master has those messages sent again. With it, the moment a failover forgets
// sends nothing, at the price of sends waiting while no replica answers. It is for a
// single master with replicas (Sentinel), whose client runs a pipeline on one connection.
func WaitForReplicas(n int, timeout time.Duration) Option {
	return func(s *Store) { s.replicas, s.replicaWait = n, timeout }
}

// New returns a Store on rdb. All keys start with "rapport:".
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: "rapport:"}
	for _, o := range opts {
		o(s)
	}
	return s
}

// HistoryLength is how many recent message records are kept per customer.
const HistoryLength = 100

// appliedTTL is how long an order.placed event id is remembered for the order statistics;
// it matches the intake's dedup window.
var appliedTTL = event.DedupWindow

// Keys. Every key of a customer carries the customer id as a Redis hash tag,
// rapport:{c-42}:customer, so that all of a customer's keys live in one slot of a Redis
// Cluster and every script touches one slot. They are easy to find and to erase, too.
func (s *Store) key(cid, kind string) string   { return s.prefix + "{" + cid + "}:" + kind }
func (s *Store) customerKey(cid string) string { return s.key(cid, "customer") }
func (s *Store) appliedKey(cid, eventID string) string {
	return s.key(cid, "applied:"+eventID)
}

// Keys of earlier versions, still read and cleaned so that what they made goes on (see
// customer.go): an enrolment's hash, the customer's journeys in a hash and, before that,
// in a set, and a timer's task ID.
func (s *Store) legacyEnrolKey(journey, cid string) string { return s.key(cid, "enrol:"+journey) }
func (s *Store) legacyEnrolledKey(cid string) string       { return s.key(cid, "enrolled") }
func (s *Store) legacyEnrolSetKey(cid string) string       { return s.key(cid, "enrols") }
func (s *Store) legacyTimerKey(journey, cid string) string { return s.key(cid, "timer:"+journey) }

func (s *Store) enteredKey(journey, cid string) string {
	return s.key(cid, "entered:"+journey)
}
func (s *Store) goalKey(journey, cid string) string { return s.key(cid, "goal:"+journey) }
func (s *Store) onceKey(journey, cid, value string) string {
	return s.key(cid, "once:"+journey+":"+value)
}
func (s *Store) historyKey(cid string) string { return s.key(cid, "history") }
func (s *Store) consentKey(cid string) string { return s.key(cid, "consent") }
func (s *Store) sentKey(cid, counter string) string {
	return s.key(cid, "sent:"+counter)
}
func (s *Store) claimKey(cid, message string) string { return s.key(cid, "claim:"+message) }
func (s *Store) blockedKey(cid string) string        { return s.key(cid, "blocked") }
func (s *Store) erasedKey(cid string) string         { return s.key(cid, "erased") }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// applyEvent upserts attributes and, for a first-seen order, the order statistics, and
// keeps the id of the customer's first event in their facts. It returns '1' when the event
// is that first one ('0' otherwise), then the customer's hash.
// An event that occurred before the customer was erased changes nothing and returns
// 'erased': it was queued before the erasure, or sent late, and must not bring the
// customer back.
// KEYS: customer hash, applied marker, facts, erasure marker. ARGV: ttl ms, order flag,
// total, occurred_at, event id, occurred_at µs, then attribute/value pairs. Redis does not
// undo a script that fails half-way, so everything that can fail (the total and the
// counters it adds to) is checked before the first write.
var applyEvent = redis.NewScript(`
local function finite(x) return x and x == x and x ~= math.huge and x ~= -math.huge end
local erased = tonumber(redis.call('GET', KEYS[4]) or '')
if erased and erased > tonumber(ARGV[6]) then
  return {'erased'}
end
if ARGV[2] == '1' then
  local total = tonumber(ARGV[3])
  if not finite(total) then
    return redis.error_reply('ERR order total ' .. ARGV[3] .. ' is not a finite number')
  end
  local f = redis.call('HMGET', KEYS[1], 'orders_count', 'total_spent')
  local count, spent = tonumber(f[1] or '0'), tonumber(f[2] or '0')
  if not count or math.floor(count) ~= count or not finite(spent) or not finite(spent + total) then
    return redis.error_reply('ERR the order statistics cannot count this order')
  end
end
redis.call('HSETNX', KEYS[3], 'first_event', ARGV[5])
local first = '0'
if redis.call('HGET', KEYS[3], 'first_event') == ARGV[5] then
  first = '1'
end
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
end
if ARGV[2] == '1' and redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  if redis.call('HINCRBY', KEYS[1], 'orders_count', 1) == 1 then
    redis.call('HSET', KEYS[1], 'first_order_at', ARGV[4])
  end
  redis.call('HINCRBYFLOAT', KEYS[1], 'total_spent', ARGV[3])
  local last = redis.call('HGET', KEYS[1], 'last_order_at')
  if not last or last < ARGV[4] then
    redis.call('HSET', KEYS[1], 'last_order_at', ARGV[4])
  end
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, first)
return out
`)

// OrderPlaced is the event type whose events keep orders_count, total_spent,
// first_order_at and last_order_at.
const OrderPlaced = "order.placed"

// Applied is what applying an event left.
type Applied struct {
	// Profile is the customer's profile after the event.
	Profile map[string]any
	// First: the event is the first Rapport processed for the customer. A retried event
	// gets the same answer.
	First bool
	// Suppressed holds the channels whose address, as the event brings it, is on their
	// suppression list (ApplyEventChecking).
	Suppressed map[string]bool
	// Erased: the customer was erased after the event occurred, and the event changed
	// nothing (see Forget).
	Erased bool
}

// ApplyEvent upserts the profile attributes ev carries and, when ev is an order.placed seen
// for the first time, counts the order. It returns the profile after the change.
func (s *Store) ApplyEvent(ctx context.Context, ev event.Event) (map[string]any, error) {
	a, err := s.ApplyEventChecking(ctx, ev, nil)
	return a.Profile, err
}

// ApplyEventChecking is ApplyEvent, telling whether ev is the customer's first event,
// and SuppressedOn(addresses), all in one round trip: an event that brings an address has
// it checked against the suppression list on the way.
func (s *Store) ApplyEventChecking(ctx context.Context, ev event.Event, addresses map[string]string) (Applied, error) {
	keys, args, err := s.applyArgs(ev)
	if err != nil {
		return Applied{}, err
	}
	var res *redis.Cmd
	var sup map[string]*redis.BoolCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		res = applyEvent.EvalSha(ctx, p, keys, args...)
		sup = s.suppressedCmds(ctx, p, addresses)
		return nil
	})
	if redis.HasErrorPrefix(res.Err(), "NOSCRIPT") {
		// A Redis that does not know the script yet (started, or flushed its scripts):
		// the two in turn, which loads it.
		flat, err := applyEvent.Run(ctx, s.rdb, keys, args...).StringSlice()
		if err != nil {
			return Applied{}, fmt.Errorf("apply event %s: %w", ev.ID, err)
		}
		on, err := s.SuppressedOn(ctx, addresses)
		if err != nil {
			return Applied{}, err
		}
		return applied(flat, on), nil
	}
	if err := res.Err(); err != nil {
		return Applied{}, fmt.Errorf("apply event %s: %w", ev.ID, err)
	}
	if err != nil {
		return Applied{}, fmt.Errorf("read suppression lists: %w", err)
	}
	flat, err := res.StringSlice()
	if err != nil {
		return Applied{}, fmt.Errorf("apply event %s: %w", ev.ID, err)
	}
	return applied(flat, suppressedOn(sup)), nil
}

// applied reads applyEvent's answer: the first-event flag, then the customer's hash.
func applied(flat []string, suppressed map[string]bool) Applied {
	if len(flat) == 0 {
		return Applied{Profile: map[string]any{}, Suppressed: suppressed}
	}
	if flat[0] == "erased" {
		return Applied{Profile: map[string]any{}, Erased: true}
	}
	return Applied{First: flat[0] == "1", Profile: decodeCustomer(pairs(flat[1:])).profile, Suppressed: suppressed}
}

// applyArgs are the keys and arguments of applyEvent for ev.
func (s *Store) applyArgs(ev event.Event) ([]string, []any, error) {
	args := make([]any, 0, 4+2*len(ev.Customer))
	order, total := "0", 0.0
	if ev.Type == OrderPlaced {
		order = "1"
		if t, ok := ev.Data["total"]; ok && t != nil {
			var finite bool
			if total, finite = event.Number(t); !finite {
				return nil, nil, fmt.Errorf("apply event %s: data.total %v is not a finite number", ev.ID, t)
			}
		}
	}
	args = append(args, appliedTTL.Milliseconds(), order, strconv.FormatFloat(total, 'f', -1, 64),
		jsonString(ev.OccurredAt.UTC().Format(time.RFC3339)), ev.ID, ev.OccurredAt.UnixMicro())
	for k, v := range ev.Customer {
		if event.IsDerived(k) {
			continue
		}
		if strings.HasPrefix(k, event.ReservedPrefix) {
			// Validate refuses these; a field of this name would overwrite Rapport's own.
			return nil, nil, fmt.Errorf("customer %s attribute %s: names starting with %s are Rapport's", ev.CustomerID, k, event.ReservedPrefix)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, nil, fmt.Errorf("customer %s attribute %s: %w", ev.CustomerID, k, err)
		}
		args = append(args, k, string(b))
	}
	return []string{s.customerKey(ev.CustomerID), s.appliedKey(ev.CustomerID, ev.ID), s.factsKey(ev.CustomerID),
		s.erasedKey(ev.CustomerID)}, args, nil
}

// Profile returns the customer's attributes, empty when the customer is unknown.
func (s *Store) Profile(ctx context.Context, cid string) (map[string]any, error) {
	res, err := s.rdb.HGetAll(ctx, s.customerKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load profile %s: %w", cid, err)
	}
	return decodeCustomer(res).profile, nil
}

// decodeValue reads a JSON-encoded attribute. Times kept by Rapport (last_order_at) come
// back as time.Time so conditions can compare them with now.
func decodeValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	if str, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339, str); err == nil && len(str) == len("2006-01-02T15:04:05Z") {
			return t
		}
	}
	return v
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Record is one line of a customer's message history.
type Record struct {
	At       time.Time `json:"at"`
	Journey  string    `json:"journey"`
	Step     string    `json:"step"`
	Template string    `json:"template,omitempty"`
	// Channel is the channel the message went out on, or was stopped on.
	Channel string `json:"channel,omitempty"`
	// Outcome is sent, skipped, capped, unreachable, uncertain or failed.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Passed lists the channels of the step that were passed over before Channel, and
	// why: no address, unsubscribed, blocked, no template, unreachable.
	Passed []Passed `json:"passed,omitempty"`
	// MessageID is the stable id of the message (enrolment and step).
	MessageID string `json:"message_id,omitempty"`
	// ProviderID is the channel's own id of a sent message, when it gave one.
	ProviderID string `json:"provider_id,omitempty"`
	// Delivery and Clicked are the message's marks (see Marks), filled in when the
	// customer is shown; the stored line does not hold them.
	Delivery string `json:"delivery,omitempty"`
	Clicked  bool   `json:"clicked,omitempty"`
}

// Passed is a channel a step passed over, and why.
type Passed struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
}

// History returns the customer's recent records, newest first.
func (s *Store) History(ctx context.Context, cid string) ([]Record, error) {
	raw, err := s.rdb.LRange(ctx, s.historyKey(cid), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("load history of %s: %w", cid, err)
	}
	out := make([]Record, 0, len(raw))
	for _, r := range raw {
		var rec Record
		if json.Unmarshal([]byte(r), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// SetConsent records whether the customer agrees to messages on a channel.
func (s *Store) SetConsent(ctx context.Context, cid, channel string, subscribed bool) error {
	v := "0"
	if subscribed {
		v = "1"
	}
	if err := s.rdb.HSet(ctx, s.consentKey(cid), channel, v).Err(); err != nil {
		return fmt.Errorf("save consent of %s: %w", cid, err)
	}
	return nil
}

// Consent returns the customer's recorded consent per channel; a channel not in the map
// has no record.
func (s *Store) Consent(ctx context.Context, cid string) (map[string]bool, error) {
	h, err := s.rdb.HGetAll(ctx, s.consentKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load consent of %s: %w", cid, err)
	}
	return decodeConsent(h), nil
}

func decodeConsent(h map[string]string) map[string]bool {
	c := make(map[string]bool, len(h))
	for ch, v := range h {
		c[ch] = v == "1"
	}
	return c
}

// Forget erases the customer's profile, consent, history, blocked channels, delivery
// marks, the claims and return paths of the messages in the history, the markers kept per journey (journeys lists the journey
// ids) and the sent-message counters (counters lists their names). Enrolments and timers
// are the engine's to end first, since their tasks must be cancelled.
//
// What stays is when the customer was erased (at), for ErasedMemory: an event that
// occurred before it, still queued or sent late, changes nothing (see ApplyEvent). It is
// the customer id and a time, nothing about the person.
func (s *Store) Forget(ctx context.Context, cid string, at time.Time, journeys, counters []string) error {
	keys := []string{s.customerKey(cid), s.consentKey(cid), s.historyKey(cid), s.legacyEnrolledKey(cid), s.legacyEnrolSetKey(cid),
		s.blockedKey(cid), s.factsKey(cid), s.feedbackKey(cid)}
	history, err := s.History(ctx, cid)
	if err != nil {
		return err
	}
	var messages []string
	for _, r := range history {
		if r.MessageID != "" {
			keys = append(keys, s.claimKey(cid, r.MessageID))
			messages = append(messages, r.MessageID)
		}
	}
	if err := s.forgetRefs(ctx, cid, messages); err != nil {
		return err
	}
	for _, c := range counters {
		keys = append(keys, s.sentKey(cid, c))
	}
	for _, j := range journeys {
		keys = append(keys, s.legacyEnrolKey(j, cid), s.enteredKey(j, cid), s.goalKey(j, cid), s.legacyTimerKey(j, cid))
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keys...)
		p.Set(ctx, s.erasedKey(cid), at.UnixMicro(), ErasedMemory)
		return nil
	})
	if err != nil {
		return fmt.Errorf("erase customer %s: %w", cid, err)
	}
	return nil
}

// ErasedMemory is how long an erasure is remembered to refuse events that occurred before
// it: as long as the intake remembers an event id.
const ErasedMemory = event.DedupWindow
