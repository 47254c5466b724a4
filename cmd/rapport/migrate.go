package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/app"
	"github.com/rapporthq/rapport/internal/store"
)

// migrateCmd is `rapport migrate [--config FILE] [--batch N]`: it moves the data in Redis
// to the layout this build reads (store.Migrate) and records its schema version. It may
// run while workers of the previous version serve; workers of this version start once it
// is done. Run again after a stop, it goes on where it stopped.
func migrateCmd(c *cli, args []string) int {
	batch := 500
	if len(args) >= 2 && args[0] == "--batch" {
		if _, err := fmt.Sscan(args[1], &batch); err != nil || batch <= 0 {
			fmt.Fprintf(c.stderr, "rapport migrate: --batch %q: want a positive number\n", args[1])
			return 2
		}
		args = args[2:]
	}
	log, status, ok := c.logger(args)
	if !ok {
		return status
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := migrate(ctx, c.config, batch, log); err != nil {
		log.Error("migration stopped", "err", err)
		return 1
	}
	return 0
}

// migrate runs store.Migrate on the Redis the config names.
func migrate(ctx context.Context, path string, batch int, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if cfg.Redis.Embedded() {
		return fmt.Errorf("%s names no Redis: the embedded one keeps nothing to migrate", path)
	}
	dial, err := app.Dialer(cfg.Redis)
	if err != nil {
		return err
	}
	rdb := dial()
	defer rdb.Close()
	rep, err := store.New(rdb).Migrate(ctx, store.MigrateOptions{Batch: batch, Log: log})
	if err != nil {
		return err
	}
	log.Info("data is at schema "+fmt.Sprint(rep.To), "from", rep.From, "scanned", rep.Scanned, "moved", rep.Moved,
		"listed", rep.Listed)
	return nil
}
