// Package abstat holds the arithmetic of experiments: which group and which variant a
// customer is in (deterministic, from a hash), the Bayesian probability that a variant
// beats all the others, the winner rule that is safe to check after every send, and the
// lift of a journey over its holdout with an interval.
//
// It is pure: no Redis, no clock, no randomness that is not seeded. The engine, the
// statistics report and the simulator all call it, so that they agree.
package abstat
