// Command rapport is the Rapport worker: trigger-based relationship-marketing journeys on
// asynq and Redis. `rapport help` lists the commands (see commandTable).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// defaultConfig is the config file a command reads unless --config names another.
const defaultConfig = "config/rapport.yaml"

// command is one subcommand: its name, its arguments and what it does for the usage, and
// what it runs.
type command struct {
	name, args, does string
	run              func(c *cli, args []string) int
}

// commandTable lists every command, in the order the usage shows them.
func commandTable() []command {
	return []command{
		{"serve", "", "run the HTTP API and the worker in one process", serveCmd},
		{"worker", "", "run only the worker (processes events, steps and timers)", serveCmd},
		{"api", "", "run only the HTTP API", serveCmd},
		{"validate", "", "load config, journeys and templates; print every problem as file:line: message", validateCmd},
		{"check", "", "dial Redis and every channel (SMTP login, bot token, ...); say what is wrong", checkCmd},
		{"inbound", "FILE.eml [--rcpt ADDRESS] [--from ADDRESS] | CHANNEL TEXT --chat ID",
			"feed a message (a reply, a DSN) to the inbound SMTP server, or a Telegram update to /hooks/CHANNEL", inboundAny},
		{"preview", "TEMPLATE [--customer F.json] [--event F.json] [--locale ru] [--channel email] [--html F|-]",
			"render one template for a sample customer and event (no Redis)", preview},
		{"simulate", "SCENARIO.test.yaml ...", "run journeys on a virtual clock, nothing sent; print the timeline", simulate},
		{"test", "", "run every workflows/tests/*.test.yaml; exit 0 only if all pass", testScenarios},
		{"migrate", "[--batch N]", "move the data in Redis to this version's layout (resumable; one at a time)", migrateCmd},
		{"bench", "", "measure Rapport next to bare asynq on a private redis-server (rapport bench -h)", runBench},
		{"version", "", "print the version this binary was built from", versionCmd},
		{"help", "", "print this text", func(c *cli, _ []string) int { fmt.Fprint(c.stderr, usage()); return 0 }},
	}
}

// usage is the text `rapport help` prints, made from the command table.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: rapport <command> [--config FILE]\n\ncommands:\n")
	for _, c := range commandTable() {
		if c.args != "" {
			fmt.Fprintf(&b, "  %-10s %s\n  %-10s %s\n", c.name, c.args, "", c.does)
			continue
		}
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.does)
	}
	b.WriteString("\nThe config defaults to " + defaultConfig + ".\n")
	return b.String()
}

// cli is what a command runs with: the flags given before it, and where it writes.
type cli struct {
	name           string // the command's name
	config         string // --config, the default of the command's own --config
	logLevel       string // --log-level, likewise
	stdout, stderr io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code. Flags go before the
// command or after it: rapport --config X validate, or rapport validate --config X.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	fs := c.flagSet("rapport")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage(), "\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	c.name = fs.Arg(0)
	for _, cmd := range commandTable() {
		if cmd.name == c.name {
			return cmd.run(c, fs.Args()[1:])
		}
	}
	fmt.Fprintf(stderr, "rapport: unknown command %q\n\n%s", c.name, usage())
	return 2
}

// flagSet returns a flag set with --config and --log-level, their defaults what was given
// before the command.
func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&c.config, "config", or(c.config, defaultConfig), "the config file")
	fs.StringVar(&c.logLevel, "log-level", or(c.logLevel, "info"), "debug, info, warn or error")
	return fs
}

// parse parses the flags after a command that takes no arguments. It returns the exit
// code when the command is not to run: 0 after --help, 2 after a bad flag or argument.
func (c *cli) parse(args []string) (status int, ok bool) {
	fs := c.flagSet("rapport " + c.name)
	fs.Usage = func() {
		fmt.Fprint(c.stderr, usage(), "\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseStatus(err), false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "rapport %s: unexpected argument %q\n\n%s", c.name, fs.Arg(0), usage())
		return 2, false
	}
	return 0, true
}

// parseStatus is the exit status after a flag error: 0 when help was asked for (the
// usage is printed), 2 otherwise.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// parseFlags parses flags wherever they stand among the arguments (`rapport simulate
// a.test.yaml --config x.yaml`) and returns the other arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
