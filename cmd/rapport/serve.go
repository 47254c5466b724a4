package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rapporthq/rapport/internal/app"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// serveCmd is `rapport serve`, `worker` and `api`: it runs the roles the name asks for
// until SIGINT or SIGTERM.
func serveCmd(c *cli, args []string) int {
	log, status, ok := c.logger(args)
	if !ok {
		return status
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(log) // libraries that print with package log come out structured too
	roles := app.Roles{Worker: c.name != "api", API: c.name != "worker"}
	a, err := app.New(c.config, roles, log)
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		var problems yamlx.Errors
		if errors.As(err, &problems) {
			fmt.Fprintln(c.stderr, problems)
		} else {
			log.Error("rapport stopped", "err", err)
		}
		return 1
	}
	return 0
}

// logger parses the command's flags and returns a logger at --log-level to stderr.
func (c *cli) logger(args []string) (log *slog.Logger, status int, ok bool) {
	if status, ok := c.parse(args); !ok {
		return nil, status, false
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintf(c.stderr, "rapport: --log-level: %v\n", err)
		return nil, 2, false
	}
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level})), 0, true
}

// validateCmd is `rapport validate`.
func validateCmd(c *cli, args []string) int {
	if _, status, ok := c.logger(args); !ok {
		return status
	}
	l, err := app.Load(c.config)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	defer l.Channels.Close()
	fmt.Fprintf(c.stdout, "ok: %s: %s, %s, %s\n", l.Config.File, count(len(l.Journeys.All()), "journey"),
		count(len(l.Templates.Names()), "template"), count(len(l.Channels), "channel"))
	return 0
}

// checkCmd is `rapport check`.
func checkCmd(c *cli, args []string) int {
	if _, status, ok := c.logger(args); !ok {
		return status
	}
	return check(context.Background(), c.config, c.stdout, c.stderr)
}

// versionCmd is `rapport version`.
func versionCmd(c *cli, args []string) int {
	if _, status, ok := c.logger(args); !ok {
		return status
	}
	fmt.Fprintln(c.stdout, version())
	return 0
}

// version describes the build from the information the Go toolchain embeds: the module
// version (a tag for go install, "(devel)" in a work tree), the commit and its time.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "rapport (unknown version)"
	}
	v := "rapport " + info.Main.Version
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))] + dirty
	}
	if at != "" {
		v += " " + at
	}
	return v + " " + info.GoVersion
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
