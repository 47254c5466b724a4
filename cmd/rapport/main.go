// Command rapport is the Rapport worker: trigger-based relationship-marketing journeys on
// asynq and Redis.
//
//	rapport serve    [--config FILE]   HTTP API and worker in one process
//	rapport worker   [--config FILE]   only process tasks (scale out with more of these)
//	rapport api      [--config FILE]   only the HTTP API
//	rapport validate [--config FILE]   check config, journeys and templates; exit 1 on any problem
//	rapport check    [--config FILE]   dial Redis and every channel; exit 1 on any problem
//	rapport preview TEMPLATE [...]      render one template for a sample customer
//	rapport simulate SCENARIO...        run journey scenarios on a virtual clock, print the timeline
//	rapport test     [--config FILE]   run every workflows/tests/*.test.yaml; exit 1 on any failure
//	rapport bench    [--json] ...      measure Rapport next to the bare stack it is built on
//	rapport version                    the version this binary was built from
//
// Flags may come before or after the command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rapporthq/rapport/internal/yamlx"
)

const usage = `usage: rapport <command> [--config FILE]

commands:
  serve      run the HTTP API and the worker in one process
  worker     run only the worker (processes events, steps and timers)
  api        run only the HTTP API
  validate   load config, journeys and templates; print every problem as file:line: message
  check      dial Redis and every channel (SMTP login, bot token, ...); say what is wrong
  preview    TEMPLATE [--customer F.json] [--event F.json] [--locale ru] [--channel email] [--html F|-]
             render one template for a sample customer and event (no Redis)
  simulate   SCENARIO.test.yaml ...: run journeys on a virtual clock, nothing sent; print the timeline
  test       run every workflows/tests/*.test.yaml; exit 0 only if all pass
  bench      measure Rapport next to bare asynq on a private redis-server (rapport bench -h)
  version    print the version this binary was built from

The config defaults to config/rapport.yaml.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	// Flags go before the command or after it: rapport --config X validate, or
	// rapport validate --config X.
	fs := flag.NewFlagSet("rapport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nflags:\n")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "config/rapport.yaml", "the config file")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() == 0 || fs.Arg(0) == "help" {
		fmt.Fprint(stderr, usage)
		if fs.NArg() == 0 {
			return 2
		}
		return 0
	}
	cmd := fs.Arg(0)
	if cmd == "bench" {
		return runBench(fs.Args()[1:], stdout, stderr)
	}
	if tool, ok := tools[cmd]; ok { // they parse their own flags; pass on a --config given before
		var args []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "config" {
				args = append(args, "--config", f.Value.String())
			}
		})
		return tool(append(args, fs.Args()[1:]...), stdout, stderr)
	}
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rapport %s: unexpected argument %q\n\n%s", cmd, fs.Arg(0), usage)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "rapport: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	switch cmd {
	case "version":
		fmt.Fprintln(stdout, version())
		return 0
	case "validate":
		return validate(*configPath, stdout, stderr)
	case "check":
		return check(context.Background(), *configPath, stdout, stderr)
	case "serve", "worker", "api":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		roles := roles{worker: cmd != "api", api: cmd != "worker"}
		slog.SetDefault(log) // libraries that print with package log come out structured too
		if err := serve(ctx, *configPath, roles, log); err != nil {
			var problems yamlx.Errors
			if errors.As(err, &problems) {
				fmt.Fprintln(stderr, problems)
			} else {
				log.Error("rapport stopped", "err", err)
			}
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "rapport: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// parseStatus is the exit status after a flag error: 0 when help was asked for (the
// usage is printed), 2 otherwise.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
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
