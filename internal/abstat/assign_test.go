package abstat

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

func customers(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%d", i)
	}
	return ids
}

func TestTheHeldOutShareIsTheConfiguredOne(t *testing.T) {
	for _, share := range []float64{0.05, 0.1, 0.2, 0.5} {
		t.Run(fmt.Sprintf("%.0f%%", share*100), func(t *testing.T) {
			held := 0
			ids := customers(20000)
			for _, c := range ids {
				if HeldOut("win-back", c, share) {
					held++
				}
			}
			got := float64(held) / float64(len(ids))
			// Five standard deviations of a binomial share: a fair hash never fails this.
			if sd := math.Sqrt(share * (1 - share) / float64(len(ids))); math.Abs(got-share) > 5*sd {
				t.Fatalf("held out %.4f, want %.2f ± %.4f", got, share, 5*sd)
			}
		})
	}
}

func TestAGroupIsTheSameOnEveryCallAndDiffersByJourney(t *testing.T) {
	same, differ := 0, 0
	for _, c := range customers(5000) {
		a := HeldOut("win-back", c, 0.5)
		if a != HeldOut("win-back", c, 0.5) {
			t.Fatalf("customer %s changed group between two calls", c)
		}
		if a == HeldOut("abandoned-cart", c, 0.5) {
			same++
		} else {
			differ++
		}
	}
	// Independent journeys: about half agree. A hash of the customer alone would agree always.
	if differ < 2000 || same < 2000 {
		t.Fatalf("two journeys agree on %d of 5000 customers, want about half", same)
	}
}

func TestRaisingTheHoldoutMovesOnlyTreatmentIntoHoldout(t *testing.T) {
	moved := 0
	for _, c := range customers(10000) {
		before, after := HeldOut("j", c, 0.10), HeldOut("j", c, 0.15)
		if before && !after {
			t.Fatalf("customer %s left the holdout when it grew", c)
		}
		if before != after {
			moved++
		}
	}
	if moved < 350 || moved > 650 {
		t.Fatalf("%d of 10000 moved, want about 500", moved)
	}
}

func shares(t *testing.T, vs []Weighted, ids []string) ([]float64, []int) {
	t.Helper()
	got := make([]float64, len(vs))
	pick := make([]int, len(ids))
	for k, c := range ids {
		i := Variant("abandoned-cart", "reminder", c, vs)
		if i < 0 {
			t.Fatalf("customer %s got no variant", c)
		}
		got[i]++
		pick[k] = i
	}
	for i := range got {
		got[i] /= float64(len(ids))
	}
	return got, pick
}

func TestVariantsAreChosenInProportionToTheirWeights(t *testing.T) {
	ids := customers(20000)
	for _, tc := range []struct {
		name string
		vs   []Weighted
	}{
		{"an even split", []Weighted{{"plain", 50}, {"discount", 50}}},
		{"an uneven split", []Weighted{{"plain", 80}, {"discount", 20}}},
		{"three ways", []Weighted{{"a", 1}, {"b", 2}, {"c", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := shares(t, tc.vs, ids)
			var total float64
			for _, v := range tc.vs {
				total += v.Weight
			}
			for i, v := range tc.vs {
				want := v.Weight / total
				if sd := math.Sqrt(want * (1 - want) / float64(len(ids))); math.Abs(got[i]-want) > 5*sd {
					t.Errorf("variant %s: share %.4f, want %.4f", v.ID, got[i], want)
				}
			}
		})
	}
}

func TestChangingOneWeightMovesOnlyCustomersToOrFromThatVariant(t *testing.T) {
	ids := customers(10000)
	before := []Weighted{{"a", 1}, {"b", 1}, {"c", 1}}
	after := []Weighted{{"a", 1}, {"b", 2}, {"c", 1}}
	_, p0 := shares(t, before, ids)
	_, p1 := shares(t, after, ids)
	for k := range ids {
		if p0[k] != p1[k] && p1[k] != 1 {
			t.Fatalf("customer %s moved from %s to %s when only b's weight grew", ids[k], before[p0[k]].ID, after[p1[k]].ID)
		}
	}
	removed := []Weighted{{"a", 1}, {"c", 1}}
	_, p2 := shares(t, removed, ids)
	for k := range ids {
		if p0[k] != 1 && before[p0[k]].ID != removed[p2[k]].ID {
			t.Fatalf("customer %s of %s moved when b was removed", ids[k], before[p0[k]].ID)
		}
	}
}

func TestNoVariantWithWeightIsNoVariant(t *testing.T) {
	if i := Variant("j", "s", "c1", []Weighted{{"a", 0}}); i != -1 {
		t.Fatalf("got %d, want -1", i)
	}
}

// BenchmarkAssignment is the assignment work a split step with a holdout adds to a send:
// the group, and the variant among two.
func BenchmarkAssignment(b *testing.B) {
	vs := []Weighted{{"plain", 50}, {"discount", 50}}
	for i := 0; b.Loop(); i++ {
		c := strconv.Itoa(i)
		if !HeldOut("abandoned-cart", c, 0.1) {
			Variant("abandoned-cart", "reminder", c, vs)
		}
	}
}

// BenchmarkProbBest is one decision of the winner rule on two variants, which a worker
// makes at most once per step every few seconds.
func BenchmarkProbBest(b *testing.B) {
	arms := []Arm{{4400, 520}, {4400, 680}}
	for b.Loop() {
		specRule.Decide(arms)
	}
}
