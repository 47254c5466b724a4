package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// factsKey is the hash of what statistics need to remember per customer: the event that
// first named the customer, and the latest answer to each survey.
func (s *Store) factsKey(cid string) string { return s.key(cid, "facts") }

// Answer is a customer's answer to a survey (an NPS question), as statistics count it.
type Answer struct {
	// EventID is the id of the event that carried the answer.
	EventID string
	// At is when the customer answered.
	At time.Time
	// Value is what the answer counts as, e.g. a score or its NPS category.
	Value string
}

// AnswerStanding says how a recorded answer stands among the customer's answers.
type AnswerStanding int

// The standings of an answer.
const (
	// Stale: a later answer was recorded already and this one never counted; count
	// nothing.
	Stale AnswerStanding = iota
	// Latest: the answer is the customer's latest; count it and take Replaced out.
	Latest
	// Superseded: a later answer replaced this one, and took it out of the counts on
	// the assumption it was counted; count it in, and nothing out.
	Superseded
)

// AnswerChange is what recording an answer changed.
type AnswerChange struct {
	Standing AnswerStanding
	// Replaced is the customer's previous latest answer, when Standing is Latest and
	// there was one.
	Replaced *Answer
}

// recordAnswer keeps the customer's latest answer to a survey and the one it replaced.
// KEYS: facts hash. ARGV: survey, event id, at ms, value, ttl ms.
// Returns {standing, replaced id, replaced at, replaced value}. Recording the same event
// again returns what the first recording did, so a retried event counts the same.
var recordAnswer = redis.NewScript(`
local p = ARGV[1] .. ':'
local cur = redis.call('HGET', KEYS[1], p .. 'id')
if cur == ARGV[2] then
  local prev = redis.call('HMGET', KEYS[1], p .. 'prev_id', p .. 'prev_at', p .. 'prev_v')
  return {1, prev[1] or '', prev[2] or '', prev[3] or ''}
end
local at = tonumber(redis.call('HGET', KEYS[1], p .. 'at') or '')
if at and at > tonumber(ARGV[3]) then
  if redis.call('HGET', KEYS[1], p .. 'prev_id') == ARGV[2] then
    return {2, '', '', ''}
  end
  return {0, '', '', ''}
end
local old = redis.call('HMGET', KEYS[1], p .. 'id', p .. 'at', p .. 'v')
redis.call('HSET', KEYS[1], p .. 'id', ARGV[2], p .. 'at', ARGV[3], p .. 'v', ARGV[4],
  p .. 'prev_id', old[1] or '', p .. 'prev_at', old[2] or '', p .. 'prev_v', old[3] or '')
return {1, old[1] or '', old[2] or '', old[3] or ''}
`)

// RecordAnswer records answer a of the customer to survey and says whether it is the customer's latest and which answer it replaced. Answers are
// ordered by At; recording the same event again answers the same.
func (s *Store) RecordAnswer(ctx context.Context, cid, survey string, a Answer) (AnswerChange, error) {
	res, err := recordAnswer.Run(ctx, s.rdb, []string{s.factsKey(cid)},
		survey, a.EventID, a.At.UnixMilli(), a.Value).Slice()
	if err != nil {
		return AnswerChange{}, fmt.Errorf("record %s answer of %s: %w", survey, cid, err)
	}
	if len(res) != 4 {
		return AnswerChange{}, fmt.Errorf("record %s answer of %s: unexpected reply %v", survey, cid, res)
	}
	code, _ := res[0].(int64)
	ch := AnswerChange{Standing: AnswerStanding(code)}
	if id, _ := res[1].(string); id != "" {
		at, _ := res[2].(string)
		v, _ := res[3].(string)
		ms, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			return AnswerChange{}, fmt.Errorf("record %s answer of %s: stored time %q: %w", survey, cid, at, err)
		}
		ch.Replaced = &Answer{EventID: id, At: time.UnixMilli(ms).UTC(), Value: v}
	}
	return ch, nil
}
