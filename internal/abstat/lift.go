package abstat

import "math"

// Lift is how much a treatment's conversion rate exceeds its holdout's: Conversion is
// treatment/holdout - 1, and [Low, High] its interval at Confidence.
type Lift struct {
	Conversion float64
	Low        float64
	High       float64
	Confidence float64
}

// RelativeLift computes the lift of treatment over holdout with the Katz log interval of
// the ratio of two proportions (Katz et al., Biometrics 1978): with R = p_t/p_h,
//
//	ln R ± z · sqrt(1/x_t - 1/n_t + 1/x_h - 1/n_h)
//
// where x is conversions, n enrolments and z the normal quantile of (1+confidence)/2; the
// bounds are exp(...) - 1. When either group has no conversions, 0.5 is added to every
// cell (Haldane's correction) so the ratio and its interval stay finite; the point
// estimate is then the corrected one too. ok is false when a group has nobody in it.
func RelativeLift(treatment, holdout Arm, confidence float64) (l Lift, ok bool) {
	t, h := treatment.clamped(), holdout.clamped()
	if t.Trials == 0 || h.Trials == 0 {
		return Lift{}, false
	}
	xt, nt := float64(t.Successes), float64(t.Trials)
	xh, nh := float64(h.Successes), float64(h.Trials)
	if xt == 0 || xh == 0 {
		xt, nt, xh, nh = xt+0.5, nt+1, xh+0.5, nh+1
	}
	lr := math.Log((xt / nt) / (xh / nh))
	se := math.Sqrt(1/xt - 1/nt + 1/xh - 1/nh)
	z := NormalQuantile((1 + confidence) / 2)
	return Lift{
		Conversion: math.Exp(lr) - 1,
		Low:        math.Exp(lr-z*se) - 1,
		High:       math.Exp(lr+z*se) - 1,
		Confidence: confidence,
	}, true
}

// NormalQuantile is the standard normal distribution's inverse at p in (0, 1).
func NormalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}
