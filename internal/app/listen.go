package app

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/internal/messenger"
)

// newListener builds what hears the messengers. It reads the channels and templates in
// force through the engine, once built, and sets consent with it.
func (a *App) newListener() *messenger.Listener {
	l := a.files
	return messenger.New(messenger.Config{
		Store:  a.store,
		Intake: client.NewFromRedis(a.conn.rdb),
		Consent: messenger.ConsentFunc(func(ctx context.Context, id, channel string, subscribed bool) error {
			return a.eng.SetConsent(ctx, id, channel, subscribed)
		}),
		Keys: a.links.Keys(),
		Channels: func() channels.Set {
			if a.eng != nil {
				return a.eng.Snapshot().Channels
			}
			return l.Channels
		},
		Templates: func() messenger.Renderer {
			if a.eng != nil {
				if t, ok := a.eng.Snapshot().Templates.(messenger.Renderer); ok {
					return t
				}
			}
			return l.Templates
		},
		Locale: l.Config.Defaults.Locale,
		Count:  a.in.Metrics.Feedback,
		Logger: a.log,
	})
}

// startPolling reads the updates of every telegram channel with updates: poll until ctx
// ends or stop is called, which waits for the pollers to let go of their leases.
func startPolling(ctx context.Context, lis *messenger.Listener, set channels.Set, rdb redis.UniversalClient, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for name, ch := range set {
		tg, ok := ch.Channel.(*telegram.Telegram)
		if !ok || tg.Updates() != telegram.UpdatesPoll {
			continue
		}
		log.Info("telegram: reading updates with getUpdates", "channel", name)
		wg.Go(func() {
			if err := lis.Poll(ctx, name, messenger.PollConfig{Redis: rdb}); err != nil {
				log.Error("telegram poll stopped", "channel", name, "err", err)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
