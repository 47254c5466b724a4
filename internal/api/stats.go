package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/rapporthq/rapport/internal/stats"
)

// StatsReporter answers GET /v1/stats; *stats.Recorder is one.
type StatsReporter interface {
	// Report reads the figures of the last days days; journeys are listed even when
	// nothing happened in them.
	Report(ctx context.Context, days int, journeys []string) (stats.Report, error)
}

// DefaultStatsDays is the window of GET /v1/stats without ?days.
const DefaultStatsDays = 90

func (s *server) statsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/stats", s.auth(http.HandlerFunc(s.getStats)))
}

func (s *server) getStats(w http.ResponseWriter, r *http.Request) {
	days := DefaultStatsDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > stats.MaxDays {
			s.fail(w, r, &badRequest{"days", "must be a whole number of days from 1 to " + strconv.Itoa(stats.MaxDays)})
			return
		}
		days = n
	}
	var journeys []string
	if s.Journeys != nil {
		for _, j := range s.Journeys() {
			journeys = append(journeys, j.ID)
		}
	}
	rep, err := s.Stats.Report(r.Context(), days, journeys)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
