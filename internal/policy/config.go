package policy

import (
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/engine"
)

// FromConfig makes the send pipeline's checks from the config: quiet hours first (a held
// message is checked again when it runs), then frequency caps. `rapport serve` and the
// simulator both build their policies here, so they hold and cap alike.
func FromConfig(cfg *config.Config) ([]engine.Policy, error) {
	var out []engine.Policy
	if q := cfg.QuietHours; q != nil {
		qh, err := NewQuietHours(q.Start, q.End, cfg.Location())
		if err != nil {
			return nil, err
		}
		out = append(out, qh)
	}
	if len(cfg.Caps) > 0 {
		limits := map[string]Limit{}
		for name, c := range cfg.Caps {
			limits[name] = Limit{Limit: c.Limit, Per: time.Duration(c.Per)}
		}
		out = append(out, NewCaps(limits))
	}
	return out, nil
}
