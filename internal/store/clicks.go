package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClicksMemory is how long a customer's clicks are kept for attribution: far longer than
// any attribution window.
const ClicksMemory = 90 * 24 * time.Hour

func (s *Store) clicksKey(cid string) string { return s.key(cid, "clicks") }

// RecordClick keeps when the customer first clicked the message, for attribution (an
// order goes to the latest clicked message in its window). A later click of the same
// message changes nothing. It reports whether this was the message's first click.
func (s *Store) RecordClick(ctx context.Context, cid, messageID string, at time.Time) (bool, error) {
	var set *redis.BoolCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		set = p.HSetNX(ctx, s.clicksKey(cid), messageID, at.UnixMilli())
		p.PExpire(ctx, s.clicksKey(cid), ClicksMemory)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record click of %s by %s: %w", messageID, cid, err)
	}
	return set.Val(), nil
}

// Clicks returns when the customer first clicked each message they clicked, by message
// id.
func (s *Store) Clicks(ctx context.Context, cid string) (map[string]time.Time, error) {
	h, err := s.rdb.HGetAll(ctx, s.clicksKey(cid)).Result()
	if err != nil {
		return nil, fmt.Errorf("load clicks of %s: %w", cid, err)
	}
	out := make(map[string]time.Time, len(h))
	for msg, v := range h {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("click of %s by %s: %q is not a time", msg, cid, v)
		}
		out[msg] = time.UnixMilli(ms)
	}
	return out, nil
}
