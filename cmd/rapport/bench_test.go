package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/internal/redistest"
)

// TestBenchRunsTinyAndReportsEveryFigure runs `rapport bench --json` at a size CI can
// afford, on a redis-server the test owns, and checks that every figure the table of
// docs/benchmarks.md and the "done" list read is there and positive.
func TestBenchRunsTinyAndReportsEveryFigure(t *testing.T) {
	rs := redistest.Start(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--json", "--redis", rs.URL(), "--templates", "../../templates",
		"--reps", "1", "--n", "40", "--pending", "40", "--due", "40", "--concurrency", "8", "--pool", "4", "--poll", "200ms"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res struct {
		Ingest   map[string]struct{ Rapport, Bare, Ratio float64 } `json:"ingest"`
		Delivery struct {
			EmailsPerS struct{ Rapport, Bare float64 } `json:"emails_per_s"`
			Ratio      float64                         `json:"ratio"`
		} `json:"delivery"`
		Memory struct {
			StepBytes  struct{ Rapport, Bare float64 } `json:"step_bytes"`
			TimerBytes struct{ Rapport, Bare float64 } `json:"timer_bytes"`
			Ratio      float64                         `json:"ratio"`
		} `json:"memory"`
		Lateness struct {
			Rapport struct {
				P50, P99, Max float64
				Drain         float64 `json:"drain_s"`
			} `json:"rapport"`
			Early      *int    `json:"early"`
			DrainRatio float64 `json:"drain_ratio"`
		} `json:"lateness"`
		Experiment struct {
			EventsPerS struct{ Rapport, Bare, Ratio float64 } `json:"events_per_s"`
		} `json:"experiment"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	positive := map[string]float64{
		"delivery.emails_per_s.rapport": res.Delivery.EmailsPerS.Rapport,
		"delivery.emails_per_s.bare":    res.Delivery.EmailsPerS.Bare,
		"delivery.ratio":                res.Delivery.Ratio,
		"memory.step_bytes.rapport":     res.Memory.StepBytes.Rapport,
		"memory.step_bytes.bare":        res.Memory.StepBytes.Bare,
		"memory.timer_bytes.rapport":    res.Memory.TimerBytes.Rapport,
		"memory.timer_bytes.bare":       res.Memory.TimerBytes.Bare,
		"memory.ratio":                  res.Memory.Ratio,
		"lateness.rapport.drain_s":      res.Lateness.Rapport.Drain,
		"lateness.drain_ratio":          res.Lateness.DrainRatio,
		"experiment.events_per_s.ratio": res.Experiment.EventsPerS.Ratio,
	}
	for _, way := range []string{"http_single", "http_batch", "client"} {
		f, ok := res.Ingest[way]
		if !ok {
			t.Errorf("ingest.%s is missing", way)
		}
		positive["ingest."+way+".rapport"], positive["ingest."+way+".bare"], positive["ingest."+way+".ratio"] = f.Rapport, f.Bare, f.Ratio
	}
	for name, v := range positive {
		if !(v > 0) {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}
	if res.Lateness.Early == nil {
		t.Error("lateness.early is missing")
	} else if *res.Lateness.Early != 0 {
		t.Errorf("lateness.early = %d: steps were sent before their due time", *res.Lateness.Early)
	}
}

func TestBenchRefusesADatabaseThatHoldsData(t *testing.T) {
	rs := redistest.Start(t)
	if err := rs.Client(t).Set(t.Context(), "someone:else", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--redis", rs.URL(), "--templates", "../../templates", "--n", "10"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "holds 1 keys") {
		t.Fatalf("exit %d, stderr %q; want 1 and a refusal naming the keys", code, stderr.String())
	}
	if n, err := rs.Client(t).DBSize(t.Context()).Result(); err != nil || n != 1 {
		t.Fatalf("the database holds %d keys (%v) after the refusal, want its 1 untouched", n, err)
	}
}
