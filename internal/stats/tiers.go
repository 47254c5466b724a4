package stats

import (
	"strings"

	"github.com/rapporthq/rapport/event"
)

// fTier prefixes the totals fields that count the customers in each loyalty tier.
const fTier = "tier:"

// tier moves a customer who reached a loyalty tier (a tier.reached event) into its count
// and out of the count of the tier they left.
func (r *Recorder) tier(b *batch, ev event.Event) {
	to, _ := ev.Data["tier"].(string)
	if to == "" {
		return
	}
	b.add(r.totalsKey(), fTier+to, 1)
	if from, _ := ev.Data["previous"].(string); from != "" {
		b.add(r.totalsKey(), fTier+from, -1)
	}
}

// tiers reads the tier counts from the totals hash.
func tiers(totals map[string]string) map[string]int64 {
	out := map[string]int64{}
	for field, v := range totals {
		if t, ok := strings.CutPrefix(field, fTier); ok {
			out[t] = count(v)
		}
	}
	return out
}
