package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/rapporthq/rapport/internal/backfill"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/reload"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// retireAfter is how long a replaced snapshot's channels stay open, so steps that
// started with them finish their sends.
const retireAfter = 5 * time.Minute

// reloader reloads journeys, templates and channels when their files change or on
// SIGHUP, and puts them in force together, or, when anything is wrong, keeps the last
// good set and logs every problem with its file:line.
type reloader struct {
	path     string
	eng      *engine.Engine
	backfill *backfill.Runner // nil in the api role
	running  *Loaded          // the config in force, to say what a reload cannot change
	log      *slog.Logger
	ctx      context.Context
}

// watch starts watching the workflows and templates folders, the config file and SIGHUP.
func (rl *reloader) watch(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	context.AfterFunc(ctx, func() { signal.Stop(hup) })
	cfg := rl.running.Config
	w := &reload.Watcher{Dirs: []string{cfg.Workflows, cfg.Templates}, Files: []string{rl.path},
		Signals: hup, Reload: rl.reload, Logger: rl.log}
	_, err := w.Start(ctx)
	return err
}

// reload loads everything again and swaps it in.
func (rl *reloader) reload(reason string) {
	l, err := Load(rl.path)
	if err != nil {
		var problems yamlx.Errors
		if !errors.As(err, &problems) {
			problems = yamlx.Errors{{File: rl.path, Msg: err.Error()}}
		}
		for _, p := range problems {
			rl.log.Error("reload refused; the last good journeys, templates and channels keep running", "problem", p.Error())
		}
		return
	}
	old := rl.eng.Swap(&engine.Snapshot{Journeys: l.Journeys, Templates: l.Templates, Channels: l.Channels})
	time.AfterFunc(retireAfter, func() {
		if err := old.Channels.Close(); err != nil {
			rl.log.Warn("the channels a reload replaced did not close cleanly", "err", err)
		}
	})
	was := rl.running.Config
	if !reflect.DeepEqual(l.Config.Redis, was.Redis) || !reflect.DeepEqual(l.Config.HTTP, was.HTTP) ||
		!reflect.DeepEqual(l.Config.Worker, was.Worker) || len(policy.Changed(was, l.Config)) > 0 {
		rl.log.Warn("redis, http, worker and policy (caps, quiet_hours, ...) changes take effect at the next restart; channels, journeys and templates are in force now",
			"policies", policy.Changed(was, l.Config))
	}
	rl.log.Info("reloaded", "reason", reason, "journeys", len(l.Journeys.All()),
		"templates", len(l.Templates.Names()), "channels", len(l.Channels))
	if rl.backfill != nil {
		rl.backfill.Start(rl.ctx, l.Journeys)
	}
}
