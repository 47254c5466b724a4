package workflows

import (
	"reflect"
	"strings"
	"testing"
)

func TestHoldoutsVariantsAndWinnersLoadAsWritten(t *testing.T) {
	set, err := Load("testdata/experiments/good", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := set.Get("abandoned-cart")
	if j.Holdout != 0.10 {
		t.Errorf("holdout = %v, want 0.10", j.Holdout)
	}
	reminder := j.Steps[0].Send
	wantVariants := []Variant{{"plain", "cart-reminder", 30}, {"discount", "cart-reminder-discount", 70}}
	if !reflect.DeepEqual(reminder.Variants, wantVariants) || reminder.Template != "" {
		t.Errorf("reminder variants = %+v, template %q; want %+v and no template", reminder.Variants, reminder.Template, wantVariants)
	}
	if w := reminder.Winner; w == nil || *w != (Winner{MetricConversion, 500, 0.99}) {
		t.Errorf("reminder winner = %+v", w)
	}
	last := j.Steps[1].Send
	if last.Variants[0].Weight != 1 || last.Variants[1].Weight != 1 {
		t.Errorf("weights left out = %+v, want equal shares", last.Variants)
	}
	if w := last.Winner; w == nil || *w != (Winner{MetricClick, DefaultMinSent, DefaultConfidence}) {
		t.Errorf("last-chance winner = %+v, want click with the defaults", w)
	}
	if got := strings.Join(reminder.Templates(), ","); got != "cart-reminder,cart-reminder-discount" {
		t.Errorf("templates = %s", got)
	}
}

func TestEveryExperimentProblemIsReportedWithItsLine(t *testing.T) {
	_, err := Load("testdata/experiments/bad", testOpts)
	if err == nil {
		t.Fatal("bad experiments loaded")
	}
	got := err.Error()
	for _, want := range []string{
		`holdout.yaml:2: holdout must be a percentage like 10%, not "ten percent"`,
		`split.yaml:2: holdout 60% is outside 0%-50%`,
		`split.yaml:7: send has both template and variants`,
		`split.yaml:15: the variants' weights sum to 0`,
		`split.yaml:17: unknown winner metric "revenue": use conversion or click`,
		`split.yaml:17: min_sent must be a whole number of 1 or more, not "0"`,
		`split.yaml:17: confidence must be a probability from 0.5 to below 1, like 0.95, not "1.5"`,
		`split.yaml:24: variant id "Big" must be lower-case letters, digits and dashes`,
		`split.yaml:23: variant id "a" is used twice in this step`,
		`split.yaml:23: unknown template "missing"`,
		`split.yaml:24: unknown key "colour"`,
		`split.yaml:29: winner belongs to a split step, one with variants:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q; got:\n%s", want, got)
		}
	}
}
