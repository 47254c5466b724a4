package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/yamlx"
)

const base = "http: {base_url: \"http://localhost:8080\", api_tokens: [t]}\nsecret: 0123456789abcdef\n"

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("rapport.yaml", []byte(base+text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

// TestAPolicyTypeIsBuiltFromItsOwnConfigKey runs the example Blackout policy through the
// registry: its key is accepted by the config, it comes after the shipped policies, and it
// holds a message on its date until the next day in the customer's time zone.
func TestAPolicyTypeIsBuiltFromItsOwnConfigKey(t *testing.T) {
	cfg := parse(t, "quiet_hours: {start: \"22:00\", end: \"07:00\"}\nblackout:\n  dates: [\"2026-12-25\"]\n")
	policies, err := policy.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(policies) != 2 {
		t.Fatalf("%d policies, want quiet hours and blackout", len(policies))
	}
	if _, ok := policies[0].(*policy.QuietHours); !ok {
		t.Fatalf("first policy is %T, want the shipped quiet hours first", policies[0])
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	d := &engine.Delivery{Now: time.Date(2026, 12, 25, 9, 0, 0, 0, time.UTC), Customer: map[string]any{"timezone": "Europe/Berlin"}}
	v, err := policies[1].Check(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 26, 0, 0, 0, 0, berlin); !v.Until.Equal(want) || v.Reason != "blackout 2026-12-25" {
		t.Fatalf("verdict %+v, want held until %s", v, want)
	}
	d.Now = time.Date(2026, 12, 26, 9, 0, 0, 0, time.UTC)
	if v, err := policies[1].Check(context.Background(), d); err != nil || !v.Until.IsZero() {
		t.Fatalf("the day after: verdict %+v, %v; want it to pass", v, err)
	}
}

// TestAPolicyTypesProblemsAreReportedAtTheirLines checks that a policy's own decoding and
// errors come back as file:line problems.
func TestAPolicyTypesProblemsAreReportedAtTheirLines(t *testing.T) {
	cases := []struct {
		name, block string
		line        int
		msg         string
	}{
		{"an unknown key", "blackout:\n  datez: [\"2026-12-25\"]\n", 4, `unknown key "datez"`},
		{"a bad value", "blackout:\n  dates: [\"christmas\"]\n", 4, `blackout: dates: "christmas" is not a date`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.FromConfig(parse(t, c.block))
			var problems yamlx.Errors
			if !errors.As(err, &problems) || len(problems) != 1 || problems[0].Line != c.line || !strings.Contains(problems[0].Msg, c.msg) {
				t.Fatalf("FromConfig: %v; want one problem at line %d with %q", err, c.line, c.msg)
			}
		})
	}
}

// TestAnUnregisteredKeyIsStillAnError checks that the registry opens the config only to
// the keys that policies registered.
func TestAnUnregisteredKeyIsStillAnError(t *testing.T) {
	_, err := config.Parse("rapport.yaml", []byte(base+"blackoot: {}\n"), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), `unknown key "blackoot"`) {
		t.Fatalf("Parse: %v; want the unknown key reported", err)
	}
}
