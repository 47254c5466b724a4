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

// The layout of a customer's keys, for erasure. Every key of the customer is either one
// of a fixed few, named by fixedKeys, or has a name that holds an id (a message, an
// event, a journey, a counter) and then is written only by a script that lists it in the
// customer's index, rapport:{c-42}:keys, in the same step: a sorted set of key names,
// each scored by the unix millisecond after which the key has surely expired. Forget
// erases the fixed keys and every key the index lists, so a new kind of key is erased as
// soon as it is written through the index (see indexLua); no caller names it.
func (s *Store) indexKey(cid string) string { return s.key(cid, "keys") }

// fixedKeys are the customer's keys whose names hold nothing but the customer id.
func (s *Store) fixedKeys(cid string) []string {
	return []string{s.customerKey(cid), s.consentKey(cid), s.historyKey(cid), s.blockedKey(cid), s.factsKey(cid),
		s.feedbackKey(cid), s.clicksKey(cid), s.indexKey(cid)}
}

// indexMargin is how long after its expiry a key stays listed in the index.
const indexMargin = time.Minute

// indexLua lists keys in a customer's index: index(idx, ttl1, key1, ttl2, key2, ...)
// lists each key until Redis's now + its TTL (ms) + indexMargin, extending an earlier
// listing, never shortening it, and drops the listings that ran out. The time is Redis's,
// the clock the keys expire by.
var indexLua = fmt.Sprintf(`
local function index(idx, ...)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local a = {...}
  local z = {'ZADD', idx, 'GT'}
  for i = 1, #a, 2 do
    z[#z + 1] = now + tonumber(a[i]) + %d
    z[#z + 1] = a[i + 1]
  end
  if #z > 3 then redis.call(unpack(z)) end
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. now)
end
`, indexMargin.Milliseconds())

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// applyEvent upserts attributes and, for a first-seen order, the order statistics, and
// keeps the id of the customer's first event in their facts. It answers '1' when the
// event is that first one ('0' otherwise), then the customer's hash.
// An event that occurred before the customer was erased changes nothing and answers
// 'erased': it was queued before the erasure, or sent late, and must not bring the
// customer back.
// Redis does not undo a script that fails half-way, so everything that can fail (the
// total and the counters it adds to) is checked before the first write.
var applyEvent = redis.NewScript(indexLua + `
local c, applied, facts, erasedKey, idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local appliedTTL, order, totalArg, occurredAt, eventID, occurredMicros = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local firstAttr = 7 -- ARGV from here are attribute/value pairs
local function finite(x) return x and x == x and x ~= math.huge and x ~= -math.huge end
local erased = tonumber(redis.call('GET', erasedKey) or '')
if erased and erased > tonumber(occurredMicros) then
  return {'erased'}
end
if order then
  local total = tonumber(totalArg)
  if not finite(total) then
    return redis.error_reply('ERR order total ' .. totalArg .. ' is not a finite number')
  end
  local f = redis.call('HMGET', c, 'orders_count', 'total_spent')
  local count, spent = tonumber(f[1] or '0'), tonumber(f[2] or '0')
  if not count or math.floor(count) ~= count or not finite(spent) or not finite(spent + total) then
    return redis.error_reply('ERR the order statistics cannot count this order')
  end
end
redis.call('HSETNX', facts, 'first_event', eventID)
local first = '0'
if redis.call('HGET', facts, 'first_event') == eventID then
  first = '1'
end
for i = firstAttr, #ARGV, 2 do
  redis.call('HSET', c, ARGV[i], ARGV[i+1])
end
if order and redis.call('SET', applied, '1', 'NX', 'PX', appliedTTL) then
  index(idx, appliedTTL, applied)
  if redis.call('HINCRBY', c, 'orders_count', 1) == 1 then
    redis.call('HSET', c, 'first_order_at', occurredAt)
  end
  redis.call('HINCRBYFLOAT', c, 'total_spent', totalArg)
  local last = redis.call('HGET', c, 'last_order_at')
  if not last or last < occurredAt then
    redis.call('HSET', c, 'last_order_at', occurredAt)
  end
end
local out = redis.call('HGETALL', c)
table.insert(out, 1, first)
return out
`)

// applyCall is applyEvent's arguments.
type applyCall struct {
	customer, applied, facts, erased, index string
	order                                   bool
	total                                   float64
	occurredAt                              time.Time
	eventID                                 string
	// attrs are attribute/value pairs, the values JSON.
	attrs []any
}

func (c applyCall) keys() []string {
	return []string{c.customer, c.applied, c.facts, c.erased, c.index}
}

func (c applyCall) argv() []any {
	order := "0"
	if c.order {
		order = "1"
	}
	return append([]any{appliedTTL.Milliseconds(), order, strconv.FormatFloat(c.total, 'f', -1, 64),
		jsonString(c.occurredAt.UTC().Format(time.RFC3339)), c.eventID, c.occurredAt.UnixMicro()}, c.attrs...)
}

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
	call, err := s.applyCall(ev)
	if err != nil {
		return Applied{}, err
	}
	var res *redis.Cmd
	var sup map[string]*redis.BoolCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		res = applyEvent.EvalSha(ctx, p, call.keys(), call.argv()...)
		sup = s.suppressedCmds(ctx, p, addresses)
		return nil
	})
	if redis.HasErrorPrefix(res.Err(), "NOSCRIPT") {
		// A Redis that does not know the script yet (started, or flushed its scripts):
		// the two in turn, which loads it.
		flat, err := s.run(ctx, applyEvent, call).StringSlice()
		if err != nil {
			return Applied{}, fmt.Errorf("apply event %s: %w", ev.ID, err)
		}
		on, err := s.SuppressedOn(ctx, addresses)
		if err != nil {
			return Applied{}, err
		}
		return applied(flat, on)
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
	return applied(flat, suppressedOn(sup))
}

// applied reads applyEvent's answer: the first-event flag, then the customer's hash as
// field/value pairs; or 'erased' alone.
func applied(flat []string, suppressed map[string]bool) (Applied, error) {
	switch {
	case len(flat) == 1 && flat[0] == "erased":
		return Applied{Profile: map[string]any{}, Erased: true}, nil
	case len(flat)%2 != 1 || flat[0] != "0" && flat[0] != "1":
		return Applied{}, fmt.Errorf("apply event: script answered %q, want a flag and field/value pairs", flat)
	}
	return Applied{First: flat[0] == "1", Profile: decodeCustomer(pairs(flat[1:])).profile, Suppressed: suppressed}, nil
}

// applyCall is applyEvent's call for ev.
func (s *Store) applyCall(ev event.Event) (applyCall, error) {
	cid := ev.CustomerID
	c := applyCall{customer: s.customerKey(cid), applied: s.appliedKey(cid, ev.ID), facts: s.factsKey(cid),
		erased: s.erasedKey(cid), index: s.indexKey(cid), occurredAt: ev.OccurredAt, eventID: ev.ID,
		attrs: make([]any, 0, 2*len(ev.Customer))}
	if ev.Type == OrderPlaced {
		c.order = true
		if t, ok := ev.Data["total"]; ok && t != nil {
			var finite bool
			if c.total, finite = event.Number(t); !finite {
				return c, fmt.Errorf("apply event %s: data.total %v is not a finite number", ev.ID, t)
			}
		}
	}
	for k, v := range ev.Customer {
		if event.IsDerived(k) {
			continue
		}
		if strings.HasPrefix(k, event.ReservedPrefix) {
			// Validate refuses these; a field of this name would overwrite Rapport's own.
			return c, fmt.Errorf("customer %s attribute %s: names starting with %s are Rapport's", cid, k, event.ReservedPrefix)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return c, fmt.Errorf("customer %s attribute %s: %w", cid, k, err)
		}
		c.attrs = append(c.attrs, k, string(b))
	}
	return c, nil
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
	// Variant is the variant of a split step's message (experiments.md).
	Variant string `json:"variant,omitempty"`
	// Channel is the channel the message went out on, or was stopped on.
	Channel string `json:"channel,omitempty"`
	// Outcome is sent, skipped, capped, unreachable, uncertain, failed or held_out.
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

// forget deletes every key of a customer but the erasure marker: the keys the index
// lists, then the fixed keys (the index among them), and sets the marker. It answers how
// many keys it deleted, or tried to: a listed key may have expired.
var forget = redis.NewScript(`
local marker, idx = KEYS[1], KEYS[2]
local erasedAt, markerTTL = ARGV[1], ARGV[2]
local firstFixed = 3 -- KEYS from here are the fixed keys
local doomed = redis.call('ZRANGE', idx, 0, -1)
for i = firstFixed, #KEYS do doomed[#doomed + 1] = KEYS[i] end
for i = 1, #doomed, 1000 do
  redis.call('DEL', unpack(doomed, i, math.min(i + 999, #doomed)))
end
redis.call('SET', marker, erasedAt, 'PX', markerTTL)
return #doomed
`)

// forgetCall is forget's arguments.
type forgetCall struct {
	marker, index string
	fixed         []string
	at            time.Time
}

func (c forgetCall) keys() []string { return append([]string{c.marker, c.index}, c.fixed...) }
func (c forgetCall) argv() []any    { return []any{c.at.UnixMicro(), ErasedMemory.Milliseconds()} }

// Forget erases everything the store keeps of the customer: every key their id names,
// found by the layout of their keys (see indexKey), whatever wrote it. Enrolments and
// timers go with the customer's hash; their tasks are the engine's to cancel first.
//
// What stays is when the customer was erased (at), for ErasedMemory: an event that
// occurred before it, still queued or sent late, changes nothing (see ApplyEvent). It is
// the customer id and a time, nothing about the person. The suppression lists keep their
// digests of the addresses that opted out, which name no customer.
func (s *Store) Forget(ctx context.Context, cid string, at time.Time) error {
	// The return paths of the messages live in other slots (a reply names only its ref):
	// they go first, while the history still lists the messages.
	history, err := s.History(ctx, cid)
	if err != nil {
		return fmt.Errorf("erase customer %s: %w", cid, err)
	}
	var messages []string
	for _, r := range history {
		if r.MessageID != "" {
			messages = append(messages, r.MessageID)
		}
	}
	if err := s.forgetRefs(ctx, cid, messages); err != nil {
		return err
	}
	res, err := s.run(ctx, forget, forgetCall{marker: s.erasedKey(cid), index: s.indexKey(cid),
		fixed: s.fixedKeys(cid), at: at}).Result()
	if err == nil {
		_, err = replyInt(res)
	}
	if err != nil {
		return fmt.Errorf("erase customer %s: %w", cid, err)
	}
	return nil
}

// ErasedMemory is how long an erasure is remembered to refuse events that occurred before
// it: as long as the intake remembers an event id.
const ErasedMemory = event.DedupWindow
