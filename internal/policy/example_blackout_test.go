package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/policy"
)

// This file is the worked example of docs/extending.md: a whole policy type, from its
// config block to its check. Written in package policy (as blackout.go) it would ship
// with Rapport; here, in a test package, the tests compile it and run it through the
// registry.

// Blackout holds every message back on the listed dates, in the customer's time zone,
// until the next day begins. In the config:
//
//	blackout:
//	  dates: ["2026-12-25", "2027-01-01"]
type Blackout struct {
	dates map[string]bool
	loc   *time.Location // the time zone of customers without one
}

// The one registration line: the config key, and how to build the policy from its block.
func init() { policy.Register(policy.Type{Name: "blackout", New: newBlackout}) }

// newBlackout decodes the blackout block: unknown keys and bad values are reported at
// their lines, and a plain error at the block's line.
func newBlackout(s policy.Section) (engine.Policy, error) {
	var cfg struct {
		Dates []string `yaml:"dates"`
	}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	b := &Blackout{dates: map[string]bool{}, loc: s.Config.Location()}
	for _, d := range cfg.Dates {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, fmt.Errorf("dates: %q is not a date like 2026-12-25", d)
		}
		b.dates[d] = true
	}
	if len(b.dates) == 0 {
		return nil, nil // nothing to hold back
	}
	return b, nil
}

// Check holds the message until the next midnight when today is a blackout date.
func (b *Blackout) Check(_ context.Context, d *engine.Delivery) (engine.Verdict, error) {
	local := d.Now.In(engine.Location(d.Customer, b.loc))
	today := local.Format(time.DateOnly)
	if !b.dates[today] {
		return engine.Verdict{}, nil
	}
	y, m, day := local.Date()
	return engine.Verdict{Until: time.Date(y, m, day+1, 0, 0, 0, 0, local.Location()), Reason: "blackout " + today}, nil
}
