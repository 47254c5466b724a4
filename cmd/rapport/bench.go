package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/app"
	"github.com/rapporthq/rapport/internal/bench"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
)

const benchUsage = `usage: rapport bench [flags]

Measures Rapport next to the bare stack (asynq, html/template, go-mail) in one run, on a
private redis-server and an SMTP server in process, and prints a table (or --json).

`

// runBench is `rapport bench`.
func runBench(c *cli, args []string) int {
	stdout, stderr := c.stdout, c.stderr
	fs := flag.NewFlagSet("rapport bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	cfg, finish := benchFlags(fs)
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	finish()
	cfg.Progress = stderr
	cfg.Instrument = func(rdb redis.UniversalClient, st *store.Store) bench.Instruments {
		in := app.NewInstruments(rdb, st, slog.New(slog.DiscardHandler), stats.Options{})
		in.Start() // counts until the process ends
		return bench.Instruments{Stats: in.Stats, Observer: in.Observer(), Middleware: in.Middleware()}
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "rapport bench: %v\n", err)
			return 1
		}
		defer stop()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, *cfg)
	if err == nil && *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else if err == nil {
		err = res.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rapport bench: %v\n", err)
		return 1
	}
	return 0
}

// benchFlags defines the flags that size the run; finish, called after parsing, puts
// those that are not plain fields into the config.
func benchFlags(fs *flag.FlagSet) (cfg *bench.Config, finish func()) {
	cfg = &bench.Config{}
	fs.StringVar(&cfg.RedisURL, "redis", "", "measure on this Redis (an empty database: it is flushed); default: start redis-server on a free port")
	fs.StringVar(&cfg.Templates, "templates", "templates", "the templates folder (the shipped thank-you email is sent)")
	fs.IntVar(&cfg.Reps, "reps", 3, "repetitions of each figure; the median is reported")
	n := fs.Int("n", 5000, "events per ingest measurement and emails per delivery measurement")
	fs.IntVar(&cfg.Pending, "pending", 10000, "pending steps and timers for the memory measurement")
	fs.IntVar(&cfg.Due, "due", 20000, "steps due within one second for the lateness measurement")
	fs.DurationVar(&cfg.PollInterval, "poll", 0, "the workers' poll interval (default 1s)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "tasks each worker runs at once")
	fs.IntVar(&cfg.Pool, "pool", 32, "SMTP connections in the pool")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(bench.Sections, ", ")+" (default all)")
	return cfg, func() {
		cfg.Events, cfg.Emails = *n, *n
		if *only != "" {
			cfg.Only = strings.Split(*only, ",")
		}
	}
}

// startCPUProfile writes a CPU profile to path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
