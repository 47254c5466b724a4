package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/rapporthq/rapport/config"
)

// redisConn is the Redis that Rapport's state and queues live in: one shared client, and
// a way to open more (the dashboard opens its own).
type redisConn struct {
	rdb   redis.UniversalClient
	dial  func() redis.UniversalClient
	close func() error
}

// Dialer returns a function that opens a client for the configured topology: one server
// (url), a Redis Cluster, or a Sentinel-managed master. The config is validated already.
func Dialer(r config.Redis) (func() redis.UniversalClient, error) {
	switch {
	case len(r.Cluster) > 0:
		opt := &redis.ClusterOptions{Addrs: r.Cluster, Username: r.Username, Password: r.Password}
		return func() redis.UniversalClient { return redis.NewClusterClient(opt) }, nil
	case r.Sentinel != nil:
		opt := &redis.FailoverOptions{MasterName: r.Sentinel.Master, SentinelAddrs: r.Sentinel.Addrs,
			SentinelPassword: r.Sentinel.Password, Username: r.Username, Password: r.Password}
		return func() redis.UniversalClient { return redis.NewFailoverClient(opt) }, nil
	default:
		opt, err := redis.ParseURL(r.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		return func() redis.UniversalClient { return redis.NewClient(opt) }, nil
	}
}

// ttlTick is how often the embedded Redis is told that time has passed, which is how
// late its keys may expire.
const ttlTick = 10 * time.Second

// connectRedis connects to the configured Redis, or starts the embedded in-process one
// when none is configured.
func connectRedis(r config.Redis, roles Roles, log *slog.Logger) (*redisConn, error) {
	if !r.Embedded() {
		dial, err := Dialer(r)
		if err != nil {
			return nil, err
		}
		rdb := dial()
		return &redisConn{rdb: rdb, dial: dial, close: rdb.Close}, nil
	}
	if !(roles.Worker && roles.API) {
		return nil, errors.New("the embedded Redis lives inside one process: `worker` and `api` alone need redis.url (or cluster or sentinel); use `serve`")
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	log.Warn("EMBEDDED REDIS: no redis.url configured, so state lives in this process only. " +
		"Nothing survives a restart: pending steps, timers and profiles are lost. Set REDIS_URL for production.")
	stop := make(chan struct{})
	go func() {
		// miniredis keeps TTLs still unless told time passes, and each telling walks
		// and sorts every key: told every second, a few thousand customers' keys keep a
		// core busy doing nothing. Rapport's TTLs only collect what is done with (its
		// leases live in values), so they may lapse up to ttlTick late. The time passed
		// is measured, not assumed, so a slow tick does not stretch them.
		t := time.NewTicker(ttlTick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			case <-stop:
				return
			}
		}
	}()
	dial := func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: m.Addr()}) }
	rdb := dial()
	return &redisConn{rdb: rdb, dial: dial, close: func() error {
		close(stop)
		err := rdb.Close()
		m.Close()
		return err
	}}, nil
}

// redisLogger sends go-redis's own log lines (pool and reconnection trouble) through slog
// as warnings, at most one line per burst: while Redis is down go-redis reports every
// failed dial, and the operator needs to hear it once every few seconds, not ten times a
// second.
type redisLogger struct {
	log   *slog.Logger
	limit *rate.Limiter

	mu         sync.Mutex
	suppressed int
}

// NewRedisLogger returns a go-redis logger (redis.SetLogger) that writes through log at
// most one line every so often.
func NewRedisLogger(log *slog.Logger, every time.Duration) *redisLogger {
	return &redisLogger{log: log, limit: rate.NewLimiter(rate.Every(every), 1)}
}

// Printf implements go-redis's logging interface.
func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.mu.Lock()
	if !l.limit.Allow() {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	attrs := []any{"component", "redis"}
	if n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	l.log.WarnContext(ctx, msg, attrs...)
}
