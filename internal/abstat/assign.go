package abstat

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// unit maps its parts to a number in [0, 1), the same on every machine and in every
// run. The parts are joined with a NUL, which ids never hold, so ("ab","c") and
// ("a","bc") differ.
func unit(salt string, parts ...string) float64 {
	h := sha256.New()
	h.Write([]byte(salt))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	v := binary.BigEndian.Uint64(h.Sum(sum[:0])[:8])
	// The top 53 bits make an exact float64 in [0, 1).
	return float64(v>>11) / (1 << 53)
}

// HeldOut reports whether the customer is in the journey's holdout group, for a holdout
// share in [0, 1]. The customer's position comes from a hash of (journey, customer), so
// every worker, every retry and the simulator agree; raising the share from 10% to 15%
// moves only the customers between the two, from treatment into holdout.
func HeldOut(journey, customer string, share float64) bool {
	if share <= 0 {
		return false
	}
	return unit("rapport/holdout", journey, customer) < share
}

// Weighted is one variant as the assignment sees it: its id and its weight.
type Weighted struct {
	ID     string
	Weight float64
}

// Variant returns the index of the customer's variant among vs for that journey and
// step, or -1 when no variant has a weight above zero.
//
// It is weighted rendezvous hashing: each variant scores -ln(u)/weight with u a hash of
// (journey, step, customer, variant id), and the lowest score wins. A variant is chosen
// with probability weight/sum(weights); changing one variant's weight moves only
// customers to or from that variant, and removing a variant moves only its own
// customers. The salt differs from the holdout's, so group and variant are independent.
func Variant(journey, step, customer string, vs []Weighted) int {
	best, bestScore := -1, math.Inf(1)
	for i, v := range vs {
		if v.Weight <= 0 {
			continue
		}
		u := unit("rapport/variant", journey, step, customer, v.ID)
		// 1-u is in (0, 1], so the logarithm is finite.
		score := -math.Log(1-u) / v.Weight
		if score < bestScore {
			best, bestScore = i, score
		}
	}
	return best
}
