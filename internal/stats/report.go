package stats

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/workflows"
)

// Report is the answer of GET /v1/stats: see the README for what each figure means.
type Report struct {
	AsOf              time.Time `json:"as_of"`
	Days              int       `json:"days"`
	Customers         int64     `json:"customers"`
	Buyers            int64     `json:"buyers"`
	RepeatBuyers      int64     `json:"repeat_buyers"`
	RepeatRate        float64   `json:"repeat_rate"`
	PurchaseFrequency float64   `json:"purchase_frequency"`
	AverageOrderValue float64   `json:"average_order_value"`
	LTV               float64   `json:"ltv"`
	// Cohorts are ordered by month, oldest first.
	Cohorts  []Cohort                `json:"cohorts"`
	NPS      NPS                     `json:"nps"`
	Journeys map[string]JourneyStats `json:"journeys"`
	// Tiers counts the customers in each loyalty tier now.
	Tiers map[string]int64 `json:"tiers"`
}

// Cohort is the buyers whose first order fell in Month (YYYY-MM), and how many of them
// ordered again within 30 and 90 days of that first order.
type Cohort struct {
	Month       string `json:"month"`
	Buyers      int64  `json:"buyers"`
	Returned30d int64  `json:"returned_30d"`
	Returned90d int64  `json:"returned_90d"`
}

// NPS is the net promoter score over the window: each customer's latest answer.
type NPS struct {
	Responses  int64 `json:"responses"`
	Promoters  int64 `json:"promoters"`
	Passives   int64 `json:"passives"`
	Detractors int64 `json:"detractors"`
	// Score is % promoters - % detractors, rounded; 0 without responses.
	Score int `json:"score"`
}

// JourneyStats is one journey's enrolments over the window.
type JourneyStats struct {
	Entered        int64   `json:"entered"`
	Converted      int64   `json:"converted"`
	ConversionRate float64 `json:"conversion_rate"`
	Revenue        float64 `json:"revenue"`
	// Clicked counts tracked links followed in the journey's messages, once per message
	// and link.
	Clicked int64 `json:"clicked"`
	// Groups and Lift are set for a journey with a holdout (experiments.md).
	Groups *Groups `json:"groups,omitempty"`
	Lift   *Lift   `json:"lift,omitempty"`
	// Steps are the journey's steps by id, with their variants for a split step;
	// counted since the journey began, not over the window.
	Steps map[string]StepStats `json:"steps,omitempty"`
}

// Report reads the counters for the last days days (today, UTC, and the days before),
// in one round trip whose size depends on days, months and journeys, never on
// customers. journeys, when not nil, are listed even without enrolments.
func (r *Recorder) Report(ctx context.Context, days int, journeys []string) (Report, error) {
	if days < 1 || days > MaxDays {
		return Report{}, errDays
	}
	now := r.now().UTC()
	var totals, cohorts *redis.MapStringStringCmd
	dayCmds := make([]*redis.MapStringStringCmd, days)
	var set *workflows.Set
	if r.journeys != nil {
		set = r.journeys()
	}
	var expCmds map[string]*redis.MapStringStringCmd
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		expCmds = r.readExperiments(ctx, p, set)
		totals = p.HGetAll(ctx, r.totalsKey())
		cohorts = p.HGetAll(ctx, r.cohortsKey())
		for i := range dayCmds {
			dayCmds[i] = p.HGetAll(ctx, r.dayKey(day(now.AddDate(0, 0, -i))))
		}
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("read statistics: %w", err)
	}
	rep := Report{AsOf: now.Truncate(time.Second), Days: days,
		Cohorts: []Cohort{}, Journeys: map[string]JourneyStats{}}
	t := totals.Val()
	rep.Customers = count(t[fCustomers])
	rep.Tiers = tiers(t)
	rep.Buyers, rep.RepeatBuyers = count(t[fBuyers]), count(t[fRepeatBuyers])
	orders, revenue := count(t[fOrders]), float64(count(t[fRevenue]))/100
	rep.RepeatRate = ratio(float64(rep.RepeatBuyers), float64(rep.Buyers), 3)
	rep.PurchaseFrequency = ratio(float64(orders), float64(rep.Buyers), 2)
	rep.AverageOrderValue = ratio(revenue, float64(orders), 2)
	rep.LTV = ratio(revenue, float64(rep.Buyers), 2)

	byMonth := map[string]*Cohort{}
	for field, v := range cohorts.Val() {
		m, what, ok := strings.Cut(field, ":")
		if !ok {
			continue
		}
		c := byMonth[m]
		if c == nil {
			c = &Cohort{Month: m}
			byMonth[m] = c
		}
		switch what {
		case fBuyers:
			c.Buyers = count(v)
		case fReturned30:
			c.Returned30d = count(v)
		case fReturned90:
			c.Returned90d = count(v)
		}
	}
	for _, c := range byMonth {
		rep.Cohorts = append(rep.Cohorts, *c)
	}
	sort.Slice(rep.Cohorts, func(i, j int) bool { return rep.Cohorts[i].Month < rep.Cohorts[j].Month })

	revenueCents := map[string]int64{}
	holdout := map[string]GroupStats{}
	holdoutCents := map[string]int64{}
	for _, j := range journeys {
		rep.Journeys[j] = JourneyStats{}
	}
	for _, cmd := range dayCmds {
		for field, v := range cmd.Val() {
			n := count(v)
			switch {
			case field == promoter:
				rep.NPS.Promoters += n
			case field == passive:
				rep.NPS.Passives += n
			case field == detractor:
				rep.NPS.Detractors += n
			case strings.HasPrefix(field, fHoldout):
				figure, j, ok := holdoutField(field)
				if !ok {
					continue
				}
				g := holdout[j]
				switch figure + ":" {
				case fEntered:
					g.Entered += n
				case fConverted:
					g.Converted += n
				case fJourneyRev:
					holdoutCents[j] += n
				}
				holdout[j] = g
			case strings.HasPrefix(field, fEntered):
				j := field[len(fEntered):]
				js := rep.Journeys[j]
				js.Entered += n
				rep.Journeys[j] = js
			case strings.HasPrefix(field, fConverted):
				j := field[len(fConverted):]
				js := rep.Journeys[j]
				js.Converted += n
				rep.Journeys[j] = js
			case strings.HasPrefix(field, fClicked):
				j := field[len(fClicked):]
				js := rep.Journeys[j]
				js.Clicked += n
				rep.Journeys[j] = js
			case strings.HasPrefix(field, fJourneyRev):
				j := field[len(fJourneyRev):]
				revenueCents[j] += n
				if _, ok := rep.Journeys[j]; !ok {
					rep.Journeys[j] = JourneyStats{}
				}
			}
		}
	}
	for j, js := range rep.Journeys {
		js.Revenue = float64(revenueCents[j]) / 100
		js.ConversionRate = ratio(float64(js.Converted), float64(js.Entered), 3)
		rep.Journeys[j] = js
	}
	for _, id := range sortedIDs(expCmds) {
		j, ok := set.Get(id)
		if !ok {
			continue
		}
		js := rep.Journeys[id]
		g := holdout[id]
		g.Revenue = float64(holdoutCents[id]) / 100
		experiments(&js, j, expCmds[id].Val(), g)
		rep.Journeys[id] = js
	}
	n := &rep.NPS
	n.Responses = n.Promoters + n.Passives + n.Detractors
	if n.Responses > 0 {
		n.Score = int(math.Round(100 * float64(n.Promoters-n.Detractors) / float64(n.Responses)))
	}
	return rep, nil
}

// count reads a counter; a missing one is 0, and so is one pushed below 0 by an answer
// taken out of a day it was never counted in.
func count(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// ratio is a/b rounded to places decimals, 0 when b is 0.
func ratio(a, b float64, places int) float64 {
	if b == 0 {
		return 0
	}
	p := math.Pow10(places)
	return math.Round(a/b*p) / p
}
