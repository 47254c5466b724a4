package app

import (
	"sort"

	"github.com/rapporthq/rapport/channels"
	_ "github.com/rapporthq/rapport/channels/all" // registers every channel type
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// Loaded is everything the files define: config, templates, channels and journeys.
type Loaded struct {
	Config    *config.Config
	Templates *templates.Set
	Channels  channels.Set
	Journeys  *workflows.Set
	// Policies are the checks every message passes, built from the config's policy keys.
	Policies []engine.Policy
}

// Load reads the config and what it points to, collecting every problem of every file in
// one go, ordered by file and line: a problem of the config (an unset variable, a bad
// cap) does not hide those of its channels, journeys or templates. The caller closes the
// channels of what it returns.
func Load(path string) (*Loaded, error) {
	var errs yamlx.Errors
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, err
	}
	errs.Add(path, err)
	l := &Loaded{Config: cfg}
	if err == nil { // a config with problems may have half-read policy blocks, reported already
		if l.Policies, err = policy.FromConfig(cfg); err != nil {
			errs.Add(cfg.File, err)
		}
	}
	if l.Channels, err = cfg.BuildChannels(); err != nil {
		errs.Add(cfg.File, err)
	}
	l.Templates, l.Journeys, err = cfg.LoadFiles()
	errs.Add(cfg.File, err)
	if err := errs.Err(); err != nil {
		l.Channels.Close()
		sort.SliceStable(errs, func(i, j int) bool {
			if errs[i].File != errs[j].File {
				return errs[i].File < errs[j].File
			}
			return errs[i].Line < errs[j].Line
		})
		return nil, errs
	}
	return l, nil
}
