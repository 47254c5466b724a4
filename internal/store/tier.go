package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// raiseTier sets the customer's tier attribute to ARGV[1] unless it holds one of the
// higher tiers (ARGV[2..]): a customer never moves down, whatever order two workers
// finish in. It answers 1 when it set the tier. Values are JSON, as every attribute.
// KEYS: the customer's hash.
var raiseTier = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'tier')
if cur == ARGV[1] then return 0 end
for i = 2, #ARGV do
  if cur == ARGV[i] then return 0 end
end
redis.call('HSET', KEYS[1], 'tier', ARGV[1])
return 1
`)

// RaiseTier puts the customer in tier, the profile's `tier` attribute, unless they are
// in tier or one of higher (the tiers above it) already. It reports whether it moved
// them.
func (s *Store) RaiseTier(ctx context.Context, cid, tier string, higher []string) (bool, error) {
	args := []any{jsonString(tier)}
	for _, h := range higher {
		args = append(args, jsonString(h))
	}
	n, err := raiseTier.Run(ctx, s.rdb, []string{s.customerKey(cid)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("raise tier of %s: %w", cid, err)
	}
	return n == 1, nil
}
