package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"

	"github.com/rapporthq/rapport/internal/stats"
)

// StatsReporter reads the relationship figures; *stats.Recorder is one.
type StatsReporter interface {
	Report(ctx context.Context, days int, journeys []string) (stats.Report, error)
}

// statsWindows are the windows the page offers, in days.
var statsWindows = []int{30, 90, 365}

// statsPage shows what GET /v1/stats answers, for people: the NPS and its split, the
// retention cohorts as a heat table, each journey's conversion and revenue, and the
// repeat rate, purchase frequency and LTV. Charts are inline SVG drawn here.
type statsPage struct {
	opts Options
	page *template.Template
}

type statsView struct {
	Days    int
	Windows []int
	R       stats.Report
	// NPS split as shares of 100 for the bar, and the score's place on -100..100.
	Promoters, Passives, Detractors float64
	// DetractorsX is where the detractors' part of the bar starts; ScoreX places the
	// score's mark on a scale drawn from 10 (-100) to 210 (+100).
	DetractorsX, ScoreX float64
	RepeatRatePct       float64
	Cohorts             []cohortView
	Journeys            []journeyStatsView
	// MaxRevenue scales the revenue bars.
	MaxRevenue float64
	// Experiments are the journeys with a holdout or a split step.
	Experiments []experimentView
}

// experimentView is one journey's treatment against its holdout, with the lift drawn on
// a scale, and its split steps' variants side by side.
type experimentView struct {
	ID     string
	Groups *stats.Groups
	Lift   *stats.Lift
	// The lift's scale runs from 10 to 290 (SVG units): ZeroX is no lift, LowX, HighX
	// and PointX the interval and the estimate; ScaleMin and ScaleMax label its ends.
	ZeroX, LowX, HighX, PointX float64
	ScaleMin, ScaleMax         float64
	// Verdict says in words whether the interval excludes no lift.
	Verdict string
	Splits  []splitView
}

type splitView struct {
	Step            string
	Variants        []variantView
	Best            string
	ProbabilityBest float64
	Winner          string
}

type variantView struct {
	ID string
	stats.VariantStats
	// RatePct is conversions per send in %, ClickPct clicks per send.
	RatePct, ClickPct float64
	Best, Winner      bool
}

type cohortView struct {
	stats.Cohort
	R30, R90 heatCell
}

// heatCell is one cell of the cohort heat table: the share and its colour.
type heatCell struct {
	Pct   float64
	Color template.CSS
}

type journeyStatsView struct {
	ID string
	stats.JourneyStats
	// RateWidth (the conversion rate in %) and RevenueWidth are the bars' lengths out of
	// 100.
	RateWidth, RevenueWidth float64
}

func (p *statsPage) show(w http.ResponseWriter, r *http.Request) {
	days := 90
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > stats.MaxDays {
			http.Error(w, fmt.Sprintf("days must be a whole number from 1 to %d", stats.MaxDays), http.StatusBadRequest)
			return
		}
		days = n
	}
	var ids []string
	journeys, _ := p.opts.Files()
	for _, j := range journeys.All() {
		ids = append(ids, j.ID)
	}
	rep, err := p.opts.Stats.Report(r.Context(), days, ids)
	if err != nil {
		p.opts.Logger.Error("statistics unavailable", "err", err)
		http.Error(w, "the statistics cannot be read just now (Redis unreachable?); try again", http.StatusServiceUnavailable)
		return
	}
	render(w, p.opts.Logger, p.page, "/stats/", newStatsView(rep, days))
}

func newStatsView(rep stats.Report, days int) statsView {
	v := statsView{Days: days, Windows: statsWindows, R: rep}
	if n := rep.NPS; n.Responses > 0 {
		total := float64(n.Responses)
		v.Promoters = round1(100 * float64(n.Promoters) / total)
		v.Passives = round1(100 * float64(n.Passives) / total)
		v.Detractors = round1(100 - v.Promoters - v.Passives)
	}
	v.DetractorsX = v.Promoters + v.Passives
	v.ScoreX = float64(rep.NPS.Score+100) + 9
	v.RepeatRatePct = round1(100 * rep.RepeatRate)
	for _, c := range rep.Cohorts {
		v.Cohorts = append(v.Cohorts, cohortView{Cohort: c, R30: heat(c.Returned30d, c.Buyers), R90: heat(c.Returned90d, c.Buyers)})
	}
	for _, js := range rep.Journeys {
		v.MaxRevenue = math.Max(v.MaxRevenue, js.Revenue)
	}
	for id, js := range rep.Journeys {
		jv := journeyStatsView{ID: id, JourneyStats: js, RateWidth: round1(100 * js.ConversionRate)}
		if v.MaxRevenue > 0 {
			jv.RevenueWidth = round1(100 * js.Revenue / v.MaxRevenue)
		}
		v.Journeys = append(v.Journeys, jv)
	}
	v.Experiments = experimentViews(rep)
	sort.Slice(v.Journeys, func(i, j int) bool {
		a, b := v.Journeys[i], v.Journeys[j]
		if a.Revenue != b.Revenue {
			return a.Revenue > b.Revenue
		}
		if a.Entered != b.Entered {
			return a.Entered > b.Entered
		}
		return a.ID < b.ID
	})
	return v
}

// heat colours a share from white (0%) to deep green (100%).
func heat(n, of int64) heatCell {
	if of == 0 {
		return heatCell{Color: "#f8fafc"}
	}
	pct := 100 * float64(n) / float64(of)
	a := 0.08 + 0.82*pct/100
	return heatCell{Pct: round1(pct), Color: template.CSS(fmt.Sprintf("rgba(22, 163, 74, %.2f)", a))}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// experimentViews picks the journeys with a holdout or a split step, in id order.
func experimentViews(rep stats.Report) []experimentView {
	var out []experimentView
	for id, js := range rep.Journeys {
		x := experimentView{ID: id, Groups: js.Groups, Lift: js.Lift}
		if l := js.Lift; l != nil {
			lo, hi := math.Min(l.Low, -0.5), math.Max(l.High, 1)
			x.ScaleMin, x.ScaleMax = round1(lo), round1(hi)
			at := func(f float64) float64 { return round1(10 + 280*(f-lo)/(hi-lo)) }
			x.ZeroX, x.LowX, x.HighX, x.PointX = at(0), at(l.Low), at(l.High), at(l.Conversion)
			switch {
			case l.Low > 0:
				x.Verdict = "the journey adds conversions: the whole interval is above no lift"
			case l.High < 0:
				x.Verdict = "the holdout converts better: the whole interval is below no lift"
			default:
				x.Verdict = "not yet distinguishable from no lift: the interval spans zero"
			}
		}
		for _, sid := range sortedKeys(js.Steps) {
			st := js.Steps[sid]
			if st.Split == nil {
				continue
			}
			sv := splitView{Step: sid, Best: st.Best, ProbabilityBest: round1(100 * st.ProbabilityBest)}
			if st.Winner != nil {
				sv.Winner = *st.Winner
			}
			for _, vid := range sortedKeys(st.Variants) {
				vs := st.Variants[vid]
				vv := variantView{ID: vid, VariantStats: vs, Best: vid == st.Best, Winner: vid == sv.Winner}
				if vs.Sent > 0 {
					vv.RatePct = round1(100 * float64(vs.Converted) / float64(vs.Sent))
					vv.ClickPct = round1(100 * float64(vs.Clicked) / float64(vs.Sent))
				}
				sv.Variants = append(sv.Variants, vv)
			}
			x.Splits = append(x.Splits, sv)
		}
		if x.Groups != nil || len(x.Splits) > 0 {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
