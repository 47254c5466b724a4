package abstat

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// run is one synthetic split: batches of sends to each arm at its true rate, the rule
// checked after every batch, as the engine checks it after every send it counts. It
// returns the winner's index and the sends per arm when it fired, or -1.
func run(seed uint64, rates []float64, rule Rule, batch, maxPerArm int64, bare bool) (int, int64) {
	r := rand.New(rand.NewPCG(seed, 25))
	arms := make([]Arm, len(rates))
	for arms[0].Trials < maxPerArm {
		for i, p := range rates {
			for range batch {
				arms[i].Trials++
				if r.Float64() < p {
					arms[i].Successes++
				}
			}
		}
		d := rule.Decide(arms)
		if bare {
			// The rule without its sequential test: the posterior probability alone.
			enough := arms[0].Trials >= rule.MinSent
			if enough && d.ProbBest[d.Best] >= rule.Confidence {
				return d.Best, arms[0].Trials
			}
			continue
		}
		if d.Winner >= 0 {
			return d.Winner, arms[0].Trials
		}
	}
	return -1, arms[0].Trials
}

var specRule = Rule{MinSent: 1000, Confidence: 0.95}

func TestTheWinnerFiresForTwelveAgainstSixPercent(t *testing.T) {
	var at []int64
	for seed := uint64(1); seed <= 20; seed++ {
		w, n := run(seed, []float64{0.06, 0.12}, specRule, 50, 20000, false)
		if w != 1 {
			t.Fatalf("seed %d: winner %d, want 1 (12%%)", seed, w)
		}
		if n > 4000 {
			t.Errorf("seed %d: fired only after %d sends per variant", seed, n)
		}
		at = append(at, n)
	}
	slices.Sort(at)
	t.Logf("fired in 20 of 20 runs, after %d to %d sends per variant (median %d)", at[0], at[len(at)-1], at[len(at)/2])
}

func TestEqualRatesDoNotFireInTwentySeededRunsCheckedAfterEveryBatch(t *testing.T) {
	fired := 0
	for seed := uint64(1); seed <= 20; seed++ {
		if w, n := run(seed, []float64{0.08, 0.08}, specRule, 50, 20000, false); w >= 0 {
			fired++
			t.Errorf("seed %d: variant %d won after %d sends per variant with equal rates", seed, w, n)
		}
	}
	t.Logf("false winners: %d of 20 runs, each checked 400 times up to 20000 sends per variant", fired)
}

// The same runs with the posterior probability alone do pick false winners: the check
// above can fail, and the sequential test is what keeps it from failing.
func TestThePosteriorAloneCheckedAfterEveryBatchPicksFalseWinners(t *testing.T) {
	fired := 0
	for seed := uint64(1); seed <= 20; seed++ {
		if w, _ := run(seed, []float64{0.08, 0.08}, specRule, 50, 20000, true); w >= 0 {
			fired++
		}
	}
	t.Logf("false winners of the bare posterior rule: %d of 20 runs", fired)
	if fired < 3 {
		t.Fatalf("the bare posterior rule fired in %d of 20 equal runs; the runs do not test repeated looks", fired)
	}
}

func TestTheFalseWinnerRateOverManyRunsIsBelowItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("100 runs")
	}
	fired := 0
	const runs = 100
	for seed := uint64(1000); seed < 1000+runs; seed++ {
		if w, _ := run(seed, []float64{0.08, 0.08}, specRule, 250, 20000, false); w >= 0 {
			fired++
		}
	}
	t.Logf("false winners: %d of %d runs (bound: 5%%)", fired, runs)
	if fired > runs*5/100 {
		t.Fatalf("%d of %d equal runs picked a winner, more than 1-confidence", fired, runs)
	}
}

func TestThreeVariantsPickTheOneThatIsBetterThanBoth(t *testing.T) {
	w, _ := run(7, []float64{0.06, 0.06, 0.12}, specRule, 50, 20000, false)
	if w != 2 {
		t.Fatalf("winner %d, want 2", w)
	}
}

func TestNoWinnerBeforeEveryVariantHasMinSent(t *testing.T) {
	d := specRule.Decide([]Arm{{999, 300}, {5000, 5}})
	if d.Winner != -1 || d.Best != 0 {
		t.Fatalf("got %+v, want best 0 and no winner", d)
	}
}
