package messenger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// PollConfig configures Poll.
type PollConfig struct {
	// Redis holds the lease and the offset.
	Redis redis.UniversalClient
	// Wait is how long one getUpdates waits for an update (long polling); default the
	// channel's poll_timeout.
	Wait time.Duration
	// Lease is how long a worker holds the right to read a bot's updates without
	// renewing it; another worker takes over after it. Default twice Wait and 5s.
	Lease time.Duration
	// Retry is the pause after a failure; default 2s.
	Retry time.Duration
}

func (c *PollConfig) defaults(wait time.Duration) {
	if c.Wait <= 0 {
		c.Wait = wait
	}
	if c.Wait < time.Second {
		c.Wait = time.Second
	}
	if c.Lease < 2*c.Wait {
		c.Lease = 2*c.Wait + 5*time.Second
	}
	if c.Retry <= 0 {
		c.Retry = 2 * time.Second
	}
}

// renewLua extends the lease KEYS[1] by ARGV[2] ms if ARGV[1] holds it, or takes it if
// no one does: 1, else 0.
var renewLua = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// advanceLua moves the offset KEYS[2] to ARGV[2] if ARGV[1] still holds the lease
// KEYS[1] and it is forward: 1, else 0.
var advanceLua = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
`)

// releaseLua gives the lease up if ARGV[1] holds it.
var releaseLua = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// PollKeys are the Redis keys of a bot's polling: the lease and the offset (the next
// update_id to read).
func PollKeys(botID string) (lease, offset string) {
	return "rapport:{poll:" + botID + "}:lease", "rapport:{poll:" + botID + "}:offset"
}

// Poll reads the updates of the Telegram channel name with getUpdates until ctx ends,
// and applies each (HandleUpdate). One worker at a time reads a bot's updates, under a
// lease in Redis; the others wait to take over. The offset is kept in Redis and moves
// past an update only after it was applied, and applying is idempotent, so across
// restarts and take-overs no update is lost or applied twice.
func (l *Listener) Poll(ctx context.Context, name string, cfg PollConfig) error {
	tg, err := l.telegram(name)
	if err != nil {
		return err
	}
	cfg.defaults(tg.PollTimeout())
	leaseKey, offsetKey := PollKeys(tg.BotID())
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	owner := hex.EncodeToString(b[:])
	rdb := cfg.Redis
	defer func() {
		// A clean stop hands over at once; a crash leaves the lease to expire.
		releaseLua.Run(context.WithoutCancel(ctx), rdb, []string{leaseKey}, owner)
	}()
	log := l.cfg.Logger.With("channel", name)
	holding := false
	for ctx.Err() == nil {
		ok, err := renewLua.Run(ctx, rdb, []string{leaseKey}, owner, cfg.Lease.Milliseconds()).Bool()
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				log.Warn("telegram poll: lease", "err", err)
			}
			if holding {
				log.Info("telegram poll: another worker took over reading updates")
				holding = false
			}
			pause(ctx, cfg.Retry)
			continue
		}
		if !holding {
			log.Info("telegram poll: this worker reads the bot's updates")
			holding = true
		}
		if err := l.pollOnce(ctx, name, cfg, owner, leaseKey, offsetKey); err != nil && ctx.Err() == nil {
			log.Warn("telegram poll", "err", err)
			pause(ctx, cfg.Retry)
		}
	}
	return nil
}

func (l *Listener) pollOnce(ctx context.Context, name string, cfg PollConfig, owner, leaseKey, offsetKey string) error {
	tg, err := l.telegram(name)
	if err != nil {
		return err
	}
	offset, err := cfg.Redis.Get(ctx, offsetKey).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read the offset: %w", err)
	}
	ups, err := tg.GetUpdates(ctx, offset, int(cfg.Wait/time.Second))
	if err != nil {
		return err
	}
	l.cfg.Logger.Debug("telegram poll", "channel", name, "offset", offset, "updates", len(ups))
	for _, u := range ups {
		if err := l.HandleUpdate(ctx, name, u.JSON); err != nil {
			return fmt.Errorf("update %d: %w", u.ID, err)
		}
		ok, err := advanceLua.Run(ctx, cfg.Redis, []string{leaseKey, offsetKey}, owner, strconv.FormatInt(u.ID+1, 10)).Bool()
		if err != nil {
			return fmt.Errorf("advance the offset: %w", err)
		}
		if !ok {
			return errors.New("the lease was lost; another worker reads on")
		}
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
