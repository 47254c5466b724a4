package abstat

import (
	"math"
	"sort"
)

// Arm is one variant's (or group's) tally: how many tried, how many succeeded (clicked or
// converted, by the metric).
type Arm struct {
	Trials    int64
	Successes int64
}

// clamped returns the arm with Successes within [0, Trials]: more attributed orders than
// sends (a customer who ordered twice) count as every send converted.
func (a Arm) clamped() Arm {
	if a.Trials < 0 {
		a.Trials = 0
	}
	a.Successes = min(max(a.Successes, 0), a.Trials)
	return a
}

// Rate is Successes/Trials, 0 for no trials.
func (a Arm) Rate() float64 {
	if a.Trials <= 0 {
		return 0
	}
	return float64(a.Successes) / float64(a.Trials)
}

// pointsPerArm is how many grid points each posterior contributes to the integration:
// about 17 per standard deviation, which the tests find within 1e-4 of the closed form.
const pointsPerArm = 400

// spread is how many standard deviations either side of its mean a posterior's grid
// reaches; beyond 12 the mass is below 1e-15 for any Beta with both parameters >= 1.
const spread = 12

// ProbBest returns, for each arm, the posterior probability that its rate is the highest
// of all, with a uniform Beta(1, 1) prior on each rate, so that an arm's posterior is
// Beta(1+successes, 1+trials-successes):
//
//	P(i best) = ∫ f_i(x) · Π_{j≠i} F_j(x) dx
//
// with f the posterior density and F its distribution function. The integral is computed
// by the trapezoid rule on a grid that is dense where each posterior has its mass, so the
// result is deterministic and needs no sampling. The probabilities sum to 1. No arms give
// nil; one arm gives [1].
func ProbBest(arms []Arm) []float64 {
	if len(arms) == 0 {
		return nil
	}
	if len(arms) == 1 {
		return []float64{1}
	}
	type beta struct{ a, b, lnorm float64 }
	ps := make([]beta, len(arms))
	var xs []float64
	for i, arm := range arms {
		arm = arm.clamped()
		a, b := 1+float64(arm.Successes), 1+float64(arm.Trials-arm.Successes)
		lab, _ := math.Lgamma(a + b) // arguments >= 2: the sign is always +
		la, _ := math.Lgamma(a)
		lb, _ := math.Lgamma(b)
		ps[i] = beta{a, b, lab - la - lb}
		mean := a / (a + b)
		sd := math.Sqrt(a * b / ((a + b) * (a + b) * (a + b + 1)))
		lo, hi := math.Max(0, mean-spread*sd), math.Min(1, mean+spread*sd)
		for k := 0; k <= pointsPerArm; k++ {
			xs = append(xs, lo+(hi-lo)*float64(k)/pointsPerArm)
		}
	}
	sort.Float64s(xs)
	xs = dedup(xs)
	n := len(xs)
	pdf := make([][]float64, len(arms))
	cdf := make([][]float64, len(arms))
	for i, p := range ps {
		f := make([]float64, n)
		for k, x := range xs {
			f[k] = betaPDF(x, p.a, p.b, p.lnorm)
		}
		c := make([]float64, n)
		for k := 1; k < n; k++ {
			c[k] = c[k-1] + (xs[k]-xs[k-1])*(f[k]+f[k-1])/2
		}
		// Normalising by the grid's own total makes each F end at exactly 1, so the
		// truncated tails and the rule's error cancel.
		total := c[n-1]
		for k := range c {
			f[k] /= total
			c[k] /= total
		}
		pdf[i], cdf[i] = f, c
	}
	out := make([]float64, len(arms))
	var sum float64
	g := make([]float64, n)
	for i := range arms {
		for k := range xs {
			v := pdf[i][k]
			for j := range arms {
				if j != i {
					v *= cdf[j][k]
				}
			}
			g[k] = v
		}
		var p float64
		for k := 1; k < n; k++ {
			p += (xs[k] - xs[k-1]) * (g[k] + g[k-1]) / 2
		}
		out[i] = p
		sum += p
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func dedup(xs []float64) []float64 {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// betaPDF is the Beta(a, b) density at x for a, b >= 1, with lnorm = -ln B(a, b).
func betaPDF(x, a, b, lnorm float64) float64 {
	l := lnorm
	if a != 1 {
		if x <= 0 {
			return 0
		}
		l += (a - 1) * math.Log(x)
	}
	if b != 1 {
		if x >= 1 {
			return 0
		}
		l += (b - 1) * math.Log1p(-x)
	}
	return math.Exp(l)
}
