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
// It answers {standing, replaced id, replaced at ms, replaced value}. Recording the same
// event again answers what the first recording did, so a retried event counts the same.
var recordAnswer = redis.NewScript(`
local facts = KEYS[1]
local survey, eventID, at, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local p = survey .. ':'
local cur = redis.call('HGET', facts, p .. 'id')
if cur == eventID then
  local prev = redis.call('HMGET', facts, p .. 'prev_id', p .. 'prev_at', p .. 'prev_v')
  return {1, prev[1] or '', prev[2] or '', prev[3] or ''}
end
local last = tonumber(redis.call('HGET', facts, p .. 'at') or '')
if last and last > tonumber(at) then
  if redis.call('HGET', facts, p .. 'prev_id') == eventID then
    return {2, '', '', ''}
  end
  return {0, '', '', ''}
end
local old = redis.call('HMGET', facts, p .. 'id', p .. 'at', p .. 'v')
redis.call('HSET', facts, p .. 'id', eventID, p .. 'at', at, p .. 'v', value,
  p .. 'prev_id', old[1] or '', p .. 'prev_at', old[2] or '', p .. 'prev_v', old[3] or '')
return {1, old[1] or '', old[2] or '', old[3] or ''}
`)

// answerCall is recordAnswer's arguments.
type answerCall struct {
	facts, survey string
	a             Answer
}

func (c answerCall) keys() []string { return []string{c.facts} }
func (c answerCall) argv() []any {
	return []any{c.survey, c.a.EventID, c.a.At.UnixMilli(), c.a.Value}
}

// RecordAnswer records answer a of the customer to survey and says whether it is the
// customer's latest and which answer it replaced. Answers are ordered by At; recording
// the same event again answers the same.
func (s *Store) RecordAnswer(ctx context.Context, cid, survey string, a Answer) (AnswerChange, error) {
	res, err := s.run(ctx, recordAnswer, answerCall{facts: s.factsKey(cid), survey: survey, a: a}).Result()
	var ch AnswerChange
	if err == nil {
		ch, err = decodeAnswered(res)
	}
	if err != nil {
		return AnswerChange{}, fmt.Errorf("record %s answer of %s: %w", survey, cid, err)
	}
	return ch, nil
}

// decodeAnswered reads recordAnswer's answer.
func decodeAnswered(v any) (AnswerChange, error) {
	l, err := replyList(v, 4)
	if err != nil {
		return AnswerChange{}, err
	}
	code, err := replyInt(l[0])
	if err != nil {
		return AnswerChange{}, err
	}
	if code < int64(Stale) || code > int64(Superseded) {
		return AnswerChange{}, fmt.Errorf("script answered standing %d", code)
	}
	prev, err := replyStrings(l[1:], 3)
	if err != nil {
		return AnswerChange{}, err
	}
	ch := AnswerChange{Standing: AnswerStanding(code)}
	if prev[0] != "" {
		ms, err := strconv.ParseInt(prev[1], 10, 64)
		if err != nil {
			return AnswerChange{}, fmt.Errorf("stored time %q: %w", prev[1], err)
		}
		ch.Replaced = &Answer{EventID: prev[0], At: time.UnixMilli(ms).UTC(), Value: prev[2]}
	}
	return ch, nil
}
