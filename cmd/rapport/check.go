package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/app"
)

// checkTimeout bounds each part of `rapport check`.
const checkTimeout = 15 * time.Second

// check loads the config, dials Redis and asks every channel that can check itself
// (channels.Checker) whether it works, printing one line per part. It returns 1 when
// anything is wrong.
func check(ctx context.Context, path string, stdout, stderr io.Writer) int {
	l, err := app.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer l.Channels.Close()
	// go-redis reports each failed dial on its own; the check says it once, in words.
	redis.SetLogger(app.NewRedisLogger(slog.New(slog.DiscardHandler), time.Hour))
	problems := 0
	report := func(part string, err error) {
		if err != nil {
			problems++
			fmt.Fprintf(stdout, "FAIL  %s: %v\n", part, err)
			return
		}
		fmt.Fprintf(stdout, "ok    %s\n", part)
	}

	rctx, cancel := context.WithTimeout(ctx, checkTimeout)
	report("redis "+describeRedis(l.Config.Redis), checkRedis(rctx, l.Config.Redis))
	cancel()

	names := make([]string, 0, len(l.Channels))
	for name := range l.Channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ch := l.Channels[name]
		part := fmt.Sprintf("channel %s (%s)", name, ch.Type.Name)
		c, ok := ch.Channel.(channels.Checker)
		if !ok {
			fmt.Fprintf(stdout, "skip  %s: this type cannot be checked without sending a message\n", part)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c.Check(cctx)
		if err != nil && cctx.Err() != nil {
			err = fmt.Errorf("no answer within %s: %w", checkTimeout, err)
		}
		cancel()
		report(part, err)
		if tg, ok := ch.Channel.(*telegram.Telegram); ok && err == nil {
			fmt.Fprintf(stdout, "      %s\n", webhookState(ctx, tg))
		}
	}
	checkInbound(ctx, l.Config, report)
	if problems > 0 {
		fmt.Fprintf(stdout, "%s wrong in %s\n", count(problems, "thing"), l.Config.File)
		return 1
	}
	fmt.Fprintf(stdout, "all good: %s\n", l.Config.File)
	return 0
}

func describeRedis(r config.Redis) string {
	switch {
	case len(r.Cluster) > 0:
		return "cluster " + strings.Join(r.Cluster, ", ")
	case r.Sentinel != nil:
		return fmt.Sprintf("sentinel master %s via %s", r.Sentinel.Master, strings.Join(r.Sentinel.Addrs, ", "))
	case r.URL != "":
		return "at " + redactURL(r.URL)
	}
	return "(embedded, in this process: nothing to dial)"
}

// redactURL hides a password in a redis URL.
func redactURL(u string) string {
	if opt, err := redis.ParseURL(u); err == nil {
		return opt.Addr
	}
	return "(unparsable url)"
}

// checkRedis dials the configured Redis and, for a cluster, asks whether every slot is
// served.
func checkRedis(ctx context.Context, r config.Redis) error {
	if r.Embedded() {
		return nil
	}
	if r.Sentinel != nil {
		if err := checkSentinels(ctx, r.Sentinel); err != nil {
			return err
		}
	}
	dial, err := app.Dialer(r)
	if err != nil {
		return err
	}
	rdb := dial()
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return plainRedisError(ctx, err)
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		info, err := cc.ClusterInfo(ctx).Result()
		if err != nil {
			return plainRedisError(ctx, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("the cluster answers but does not serve every slot (cluster_state is not ok): see `redis-cli cluster info`")
		}
	}
	return nil
}

// plainRedisError says in words what a failed dial means.
func plainRedisError(ctx context.Context, err error) error {
	var rerr redis.Error
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing listens there (connection refused): is Redis running, and is the port right? (%w)", err)
	case errors.As(err, &dns):
		return fmt.Errorf("the host name %q does not resolve (%w)", dns.Name, err)
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no answer within %s: a firewall, a wrong address, or TLS expected (rediss://)? (%w)", checkTimeout, err)
	case redis.IsAuthError(err):
		return fmt.Errorf("Redis refused the credentials: check the password (%w)", err)
	case redis.IsClusterDownError(err):
		return fmt.Errorf("the cluster is down: not every slot is served (%w)", err)
	case errors.As(err, &rerr):
		return fmt.Errorf("Redis answered with an error (%w)", err)
	}
	return err
}

// checkSentinels asks each Sentinel for the master, so that a wrong master name and
// Sentinels that do not answer are told apart.
func checkSentinels(ctx context.Context, s *config.Sentinel) error {
	var lastErr error
	for _, addr := range s.Addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: s.Password, MaxRetries: -1})
		_, err := sc.GetMasterAddrByName(ctx, s.Master).Result()
		sc.Close()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, redis.Nil):
			return fmt.Errorf("the Sentinel at %s knows no master called %q: check redis.sentinel.master", addr, s.Master)
		}
		lastErr = plainRedisError(ctx, err)
	}
	return fmt.Errorf("no Sentinel answers: %w", lastErr)
}

// webhookState says where the bot's webhook points (getWebhookInfo), and whether that
// fits its updates mode.
func webhookState(ctx context.Context, tg *telegram.Telegram) string {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	info, err := tg.WebhookInfo(cctx)
	switch {
	case err != nil:
		return fmt.Sprintf("webhook: unknown (%v)", err)
	case info.URL == "" && tg.Updates() == telegram.UpdatesPoll:
		return "webhook: not set; updates: poll reads them"
	case info.URL == "":
		return "webhook: not set, so no update arrives: call setWebhook with BASE_URL/hooks/CHANNEL and the webhook_secret, or set updates: poll"
	case tg.Updates() == telegram.UpdatesPoll:
		return "webhook: set to " + info.URL + ", but updates: poll cannot read while it is (deleteWebhook)"
	}
	s := "webhook: set to " + info.URL
	if info.LastErrorMessage != "" {
		s += fmt.Sprintf(" (last error: %s; %d updates pending)", info.LastErrorMessage, info.PendingUpdateCount)
	}
	return s
}
