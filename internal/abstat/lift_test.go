package abstat

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestTheLiftOfTheSpecExampleIsTheKatzIntervalWorkedByHand(t *testing.T) {
	// 153 of 900 against 7 of 100: R = 0.17/0.07, se² = 1/153 - 1/900 + 1/7 - 1/100.
	l, ok := RelativeLift(Arm{900, 153}, Arm{100, 7}, 0.95)
	if !ok {
		t.Fatal("no lift")
	}
	r := (153.0 / 900) / (7.0 / 100)
	se := math.Sqrt(1.0/153 - 1.0/900 + 1.0/7 - 1.0/100)
	want := Lift{Conversion: r - 1, Low: r*math.Exp(-1.959964*se) - 1, High: r*math.Exp(1.959964*se) - 1, Confidence: 0.95}
	if math.Abs(l.Conversion-want.Conversion) > 1e-9 || math.Abs(l.Low-want.Low) > 1e-5 || math.Abs(l.High-want.High) > 1e-5 {
		t.Fatalf("got %+v, want %+v", l, want)
	}
}

// bootstrapLift is the percentile interval of the lift from a parametric bootstrap:
// resample each group's conversions as binomial draws at its observed rate.
func bootstrapLift(r *rand.Rand, t, h Arm, confidence float64, draws int) (lo, hi float64) {
	binom := func(n int64, p float64) float64 {
		var x int64
		for range n {
			if r.Float64() < p {
				x++
			}
		}
		return float64(x)
	}
	var lifts []float64
	for range draws {
		xt, xh := binom(t.Trials, t.Rate()), binom(h.Trials, h.Rate())
		if xh == 0 {
			continue
		}
		lifts = append(lifts, (xt/float64(t.Trials))/(xh/float64(h.Trials))-1)
	}
	sort.Float64s(lifts)
	tail := (1 - confidence) / 2
	return lifts[int(tail*float64(len(lifts)))], lifts[int((1-tail)*float64(len(lifts)))-1]
}

func TestTheLiftIntervalAgreesWithABootstrap(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 1))
	for _, tc := range []struct {
		name string
		t, h Arm
	}{
		{"a win-back with a tenth held out", Arm{9000, 1080}, Arm{1000, 100}},
		{"an abandoned cart that works", Arm{1800, 306}, Arm{200, 20}},
		{"no difference", Arm{4000, 400}, Arm{1000, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := RelativeLift(tc.t, tc.h, 0.95)
			if !ok {
				t.Fatal("no lift")
			}
			lo, hi := bootstrapLift(r, tc.t, tc.h, 0.95, 4000)
			// The two methods differ by their approximations: the bootstrap's ratios lean
			// upwards when the holdout has few conversions (1/x is convex). With 20
			// holdout conversions the upper ends differ by 13% of the width; with 100, by
			// a few percent.
			width := hi - lo
			if math.Abs(l.Low-lo) > 0.15*width || math.Abs(l.High-hi) > 0.15*width {
				t.Fatalf("Katz [%.4f, %.4f], bootstrap [%.4f, %.4f]", l.Low, l.High, lo, hi)
			}
			if l.Low > l.Conversion || l.Conversion > l.High {
				t.Fatalf("the estimate %.4f is outside its interval [%.4f, %.4f]", l.Conversion, l.Low, l.High)
			}
		})
	}
}

func TestTheLiftIntervalCoversTheTrueLiftAsOftenAsItSays(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 2))
	const runs = 2000
	pt, ph := 0.12, 0.10
	truth := pt/ph - 1
	covered := 0
	for range runs {
		var tr, hr Arm
		tr.Trials, hr.Trials = 2700, 300
		for range tr.Trials {
			if r.Float64() < pt {
				tr.Successes++
			}
		}
		for range hr.Trials {
			if r.Float64() < ph {
				hr.Successes++
			}
		}
		l, ok := RelativeLift(tr, hr, 0.95)
		if !ok {
			t.Fatal("no lift")
		}
		if l.Low <= truth && truth <= l.High {
			covered++
		}
	}
	// 95% ± 3 standard errors of 2000 runs.
	if got := float64(covered) / runs; got < 0.935 || got > 0.965 {
		t.Fatalf("the interval covered the true lift in %.3f of runs, want 0.95", got)
	}
}

func TestAHoldoutWithoutConversionsStillHasAFiniteLift(t *testing.T) {
	l, ok := RelativeLift(Arm{90, 9}, Arm{10, 0}, 0.95)
	if !ok || math.IsInf(l.High, 0) || math.IsNaN(l.Conversion) {
		t.Fatalf("got %+v, %v", l, ok)
	}
	if _, ok := RelativeLift(Arm{90, 9}, Arm{0, 0}, 0.95); ok {
		t.Fatal("an empty holdout gave a lift")
	}
}
