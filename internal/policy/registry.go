package policy

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// Type is one kind of policy, turned on by a top-level key of the config, the way a
// channel type is turned on by a channel's `type`.
type Type struct {
	// Name is the config key, e.g. "quiet_hours".
	Name string
	// New builds the policy when the config has the key. It decodes its own block with
	// Section.Decode, which reports unknown keys and bad values at their lines; a plain
	// error is placed at the block's line. A nil policy means the block asks for nothing.
	New func(s Section) (engine.Policy, error)
}

// Section is what a policy type is built from: its block of the config, and the whole
// config for what it shares (the default time zone, the channel names).
type Section struct {
	config.Block
	Config *config.Config
}

var (
	mu    sync.RWMutex
	types []Type
)

// The policies that ship, in the order every message passes them: quiet hours first (a
// held message is checked again when it runs), then frequency caps.
func init() {
	Register(Type{Name: "quiet_hours", New: newQuietHours})
	Register(Type{Name: "caps", New: newCaps})
}

// Register makes a policy type available under its config key. Messages pass policies
// in the order their types were registered. It panics if the name is empty or taken:
// registration happens in init functions, where that is a programming error.
func Register(t Type) {
	mu.Lock()
	defer mu.Unlock()
	if t.Name == "" || t.New == nil {
		panic("policy: Register needs a Name and a New function")
	}
	for _, have := range types {
		if have.Name == t.Name {
			panic("policy: type " + t.Name + " registered twice")
		}
	}
	config.RegisterSection(t.Name)
	types = append(types, t)
}

// registered returns the registered types in order.
func registered() []Type {
	mu.RLock()
	defer mu.RUnlock()
	return append([]Type(nil), types...)
}

// FromConfig makes the send pipeline's checks from the config: one per registered type
// whose key the config has, in registration order. `rapport serve` and the simulator
// both build their policies here, so they hold and cap alike. Every type's problems come
// back together as yamlx.Errors.
func FromConfig(cfg *config.Config) ([]engine.Policy, error) {
	var out []engine.Policy
	var errs yamlx.Errors
	for _, t := range registered() {
		block, ok := cfg.Section(t.Name)
		if !ok {
			continue
		}
		p, err := t.New(Section{Block: block, Config: cfg})
		if err != nil {
			var many yamlx.Errors
			var one yamlx.Error
			if !errors.As(err, &many) && !errors.As(err, &one) {
				err = yamlx.Error{File: cfg.File, Line: block.Line, Msg: fmt.Sprintf("%s: %v", t.Name, err)}
			}
			errs.Add(cfg.File, err)
			continue
		}
		if p != nil {
			out = append(out, p)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Changed lists the policy keys whose blocks differ between two configs: policies are
// built at start, so a reload names them as waiting for a restart.
func Changed(was, now *config.Config) []string {
	var keys []string
	for _, t := range registered() {
		a, _ := was.Section(t.Name)
		b, _ := now.Section(t.Name)
		if !a.Same(b) {
			keys = append(keys, t.Name)
		}
	}
	return keys
}

// newQuietHours builds quiet hours from the config's quiet_hours, which the config
// validates.
func newQuietHours(s Section) (engine.Policy, error) {
	q := s.Config.QuietHours
	if q == nil {
		return nil, nil
	}
	return NewQuietHours(q.Start, q.End, s.Config.Location())
}

// newCaps builds frequency caps from the config's caps, which the config validates.
func newCaps(s Section) (engine.Policy, error) {
	if len(s.Config.Caps) == 0 {
		return nil, nil
	}
	limits := map[string]Limit{}
	for name, c := range s.Config.Caps {
		limits[name] = Limit{Limit: c.Limit, Per: time.Duration(c.Per)}
	}
	return NewCaps(limits), nil
}
