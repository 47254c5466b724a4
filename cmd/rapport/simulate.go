package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/sim/scenario"
)

// setups loads each config a scenario runs with once.
type setups struct {
	defaultPath string
	byPath      map[string]*sim.Setup
}

func (s *setups) get(sc *scenario.Scenario) (*sim.Setup, error) {
	path := s.defaultPath
	if sc.Config != "" {
		path = filepath.Join(filepath.Dir(sc.File), sc.Config)
	}
	if setup, ok := s.byPath[path]; ok {
		return setup, nil
	}
	setup, err := sim.Load(path)
	if err != nil {
		return nil, err
	}
	if s.byPath == nil {
		s.byPath = map[string]*sim.Setup{}
	}
	s.byPath[path] = setup
	return setup, nil
}

// simulate is `rapport simulate`.
func simulate(c *cli, args []string) int {
	stdout, stderr := c.stdout, c.stderr
	fs := flag.NewFlagSet("rapport simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", c.config, "the config file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rapport simulate SCENARIO.test.yaml ... [--config FILE]")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	s := &setups{defaultPath: *configPath}
	code := 0
	for _, f := range files {
		r, err := runScenario(s, f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		sc := r.Scenario
		fmt.Fprintf(stdout, "%s (%s)\n", sc.Name, sc.File)
		fmt.Fprintf(stdout, "  customer %s in %s, from %s for %s\n", sc.CustomerID, r.Location,
			sc.Start.In(r.Location).Format("Mon 2006-01-02 15:04 MST"), duration.Format(sc.RunFor))
		r.WriteTimeline(stdout)
		if len(sc.Expect) == 0 && !sc.Exhaustive && len(r.Errors) == 0 {
			fmt.Fprintln(stdout)
			continue
		}
		if r.Passed() {
			fmt.Fprintf(stdout, "ok: %s held\n\n", count(len(sc.Expect), "expectation"))
			continue
		}
		code = 1
		fmt.Fprintf(stdout, "FAIL: %s\n", failures(r))
		r.WriteDiff(stdout)
		fmt.Fprintln(stdout)
	}
	return code
}

// testScenarios is `rapport test`.
func testScenarios(c *cli, args []string) int {
	stdout, stderr := c.stdout, c.stderr
	fs := flag.NewFlagSet("rapport test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", c.config, "the config file")
	verbose := fs.Bool("v", false, "print every scenario's timeline, not only failing ones")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rapport test [--config FILE] [-v]\n\nruns every *.test.yaml under the journeys folder's tests/")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if len(rest) > 0 {
		fs.Usage()
		return 2
	}
	files, err := scenarioFiles(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	s := &setups{defaultPath: *configPath}
	passed, failed := 0, 0
	for _, f := range files {
		began := time.Now()
		r, err := runScenario(s, f)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL  %s\n%s\n", f, indent(err.Error()))
			continue
		}
		took := time.Since(began).Round(time.Millisecond)
		if r.Passed() {
			passed++
			fmt.Fprintf(stdout, "ok    %s  %s (%s, %s)\n", f, r.Scenario.Name, count(len(r.Scenario.Expect), "expectation"), took)
			if *verbose {
				r.WriteTimeline(stdout)
			}
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL  %s  %s: %s\n", f, r.Scenario.Name, failures(r))
		r.WriteDiff(stdout)
		fmt.Fprintln(stdout, "  timeline:")
		r.WriteTimeline(stdout)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// scenarioFiles lists the *.test.yaml files under the tests/ folder of the config's
// journeys folder, sorted; none is an error.
func scenarioFiles(configPath string) ([]string, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.Workflows, "tests")
	files, err := filepath.Glob(filepath.Join(dir, "*.test.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("rapport test: no scenarios (*.test.yaml) in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

func runScenario(s *setups, file string) (*scenario.Result, error) {
	sc, parseErr := scenario.LoadFile(file)
	if sc == nil {
		return nil, parseErr
	}
	setup, err := s.get(sc)
	if err != nil {
		var problems yamlx.Errors
		if errors.As(err, &problems) {
			return nil, errors.Join(parseErr, fmt.Errorf("%s: its config has problems:\n%w", file, err))
		}
		return nil, errors.Join(parseErr, err)
	}
	if parseErr != nil {
		// What the scenario names that the setup lacks (journeys, steps, channels) is
		// reported with its syntax problems, in line order: one pass to fix them all.
		var problems yamlx.Errors
		problems.Add(file, parseErr)
		problems.Add(file, sc.Check(setup))
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, problems
	}
	return scenario.Run(context.Background(), setup, sc)
}

func failures(r *scenario.Result) string {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	msg := fmt.Sprintf("%d of %s failed", n, count(len(r.Checks), "expectation"))
	if len(r.Unexpected) > 0 {
		msg += fmt.Sprintf("; %s not expected", count(len(r.Unexpected), "message"))
	}
	if len(r.Errors) > 0 {
		msg += fmt.Sprintf("; %s failed for good", count(len(r.Errors), "task"))
	}
	return msg
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
