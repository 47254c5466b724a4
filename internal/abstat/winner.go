package abstat

import "math"

// Rule is a split step's winner rule: once every variant has MinSent trials, a variant
// that beats all the others with probability Confidence wins.
type Rule struct {
	MinSent    int64
	Confidence float64
}

// Decision is what the winner rule says about a split at one moment.
type Decision struct {
	// Best is the index of the arm most likely to be best; -1 for no arms.
	Best int
	// ProbBest is each arm's posterior probability of being best (see ProbBest).
	ProbBest []float64
	// Winner is the index of the winning arm once the rule fires, else -1.
	Winner int
}

// Decide applies the rule to the arms. The winner is the best arm when all three hold:
//
//  1. every arm has at least MinSent trials;
//  2. its posterior probability of being best is at least Confidence;
//  3. against every other arm, the mixture sequential probability ratio test (mSPRT,
//     Johari, Pekelis and Walsh, "Always valid inference", 2015) rejects equal rates at
//     level (1-Confidence)/(k-1), a Bonferroni share for k arms.
//
// The second is the meaning the configuration promises; the third is what makes the rule
// safe to check after every send. A posterior probability alone, checked again and again
// while the rates are equal, wanders above any threshold below 1 sooner or later; the
// mSPRT's likelihood ratio is a martingale under equal rates, so by Ville's inequality
// the chance that it ever crosses 1/α, over any number of looks, is at most α.
func (r Rule) Decide(arms []Arm) Decision {
	d := Decision{Best: -1, Winner: -1, ProbBest: ProbBest(arms)}
	for i, p := range d.ProbBest {
		if d.Best < 0 || p > d.ProbBest[d.Best] {
			d.Best = i
		}
	}
	if len(arms) < 2 || d.Best < 0 {
		return d
	}
	for _, a := range arms {
		if a.clamped().Trials < max(r.MinSent, 1) {
			return d
		}
	}
	if d.ProbBest[d.Best] < r.Confidence {
		return d
	}
	alpha := (1 - r.Confidence) / float64(len(arms)-1)
	best := arms[d.Best].clamped()
	for i, a := range arms {
		if i == d.Best {
			continue
		}
		a = a.clamped()
		if best.Rate() <= a.Rate() || MixtureRatio(best, a) < 1/alpha {
			return d
		}
	}
	d.Winner = d.Best
	return d
}

// mixtureScale is τ of the mSPRT's normal mixture as a share of the pooled rate: the test
// is most sensitive to differences of about a quarter of the base rate (6% against 8%).
const mixtureScale = 0.25

// MixtureRatio is the mSPRT's likelihood ratio for "the two rates differ" against "they
// are equal", on the difference of the observed rates with its variance under equal
// rates, V = p(1-p)(1/n1 + 1/n2) for the pooled rate p, and a normal mixture N(0, τ²)
// over the true difference, τ = mixtureScale·p:
//
//	Λ = sqrt(V/(V+τ²)) · exp(d²·τ² / (2·V·(V+τ²)))
//
// Equal rates reject at level α once Λ >= 1/α. Arms without trials give 1 (no evidence).
func MixtureRatio(a, b Arm) float64 {
	a, b = a.clamped(), b.clamped()
	if a.Trials == 0 || b.Trials == 0 {
		return 1
	}
	p := float64(a.Successes+b.Successes) / float64(a.Trials+b.Trials)
	if p <= 0 || p >= 1 {
		return 1
	}
	v := p * (1 - p) * (1/float64(a.Trials) + 1/float64(b.Trials))
	tau2 := mixtureScale * p * mixtureScale * p
	d := a.Rate() - b.Rate()
	return math.Sqrt(v/(v+tau2)) * math.Exp(d*d*tau2/(2*v*(v+tau2)))
}
