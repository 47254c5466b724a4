package abstat

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// probBGreater is the exact P(p_B > p_A) for Beta(aA, bA) and Beta(aB, bB) posteriors
// with integer aB (Evan Miller, "Formulas for Bayesian A/B testing", 2015):
//
//	Σ_{i=0}^{aB-1} B(aA+i, bA+bB) / ((bB+i) · B(1+i, bB) · B(aA, bA))
//
// It is an independent reference: a closed form, not an integral on a grid.
func probBGreater(aA, bA, aB, bB float64) float64 {
	lbeta := func(a, b float64) float64 {
		x, _ := math.Lgamma(a)
		y, _ := math.Lgamma(b)
		z, _ := math.Lgamma(a + b)
		return x + y - z
	}
	var total float64
	for i := 0.0; i < aB; i++ {
		total += math.Exp(lbeta(aA+i, bA+bB) - math.Log(bB+i) - lbeta(1+i, bB) - lbeta(aA, bA))
	}
	return total
}

func TestProbBestOfTwoArmsMatchesTheClosedForm(t *testing.T) {
	for _, tc := range []struct{ a, b Arm }{
		{Arm{0, 0}, Arm{0, 0}},
		{Arm{10, 1}, Arm{10, 3}},
		{Arm{100, 12}, Arm{100, 6}},
		{Arm{1000, 60}, Arm{1000, 120}},
		{Arm{1000, 80}, Arm{1000, 80}},
		{Arm{440, 52}, Arm{440, 68}},
		{Arm{5000, 1}, Arm{5000, 0}},
		{Arm{50, 49}, Arm{3000, 2000}},
		{Arm{20000, 1600}, Arm{20000, 1700}},
	} {
		t.Run(fmt.Sprintf("%d/%d against %d/%d", tc.a.Successes, tc.a.Trials, tc.b.Successes, tc.b.Trials), func(t *testing.T) {
			got := ProbBest([]Arm{tc.a, tc.b})
			want := probBGreater(float64(1+tc.a.Successes), float64(1+tc.a.Trials-tc.a.Successes),
				float64(1+tc.b.Successes), float64(1+tc.b.Trials-tc.b.Successes))
			if math.Abs(got[1]-want) > 1e-4 || math.Abs(got[0]+got[1]-1) > 1e-9 {
				t.Fatalf("P(b best) = %.6f (sum %.9f), closed form %.6f", got[1], got[0]+got[1], want)
			}
		})
	}
}

// betaDraw draws from Beta(a, b) for integer a, b >= 1 as the a-th smallest of a+b-1
// uniforms: slow, but plainly right.
func betaDraw(r *rand.Rand, a, b int64) float64 {
	u := make([]float64, a+b-1)
	for i := range u {
		u[i] = r.Float64()
	}
	sort.Float64s(u)
	return u[a-1]
}

func TestProbBestOfThreeArmsMatchesASeededMonteCarlo(t *testing.T) {
	arms := []Arm{{40, 6}, {40, 9}, {50, 14}}
	r := rand.New(rand.NewPCG(1, 2))
	const draws = 40000
	wins := make([]float64, len(arms))
	for range draws {
		best, bx := 0, -1.0
		for i, a := range arms {
			if x := betaDraw(r, 1+a.Successes, 1+a.Trials-a.Successes); x > bx {
				best, bx = i, x
			}
		}
		wins[best]++
	}
	got := ProbBest(arms)
	for i := range arms {
		want := wins[i] / draws
		// The Monte Carlo's own standard error is at most 0.0025; allow four of them.
		if math.Abs(got[i]-want) > 0.01 {
			t.Errorf("arm %d: P(best) %.4f, Monte Carlo %.4f", i, got[i], want)
		}
	}
}
