package config

import (
	"bytes"
	"reflect"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/internal/yamlx"
)

var (
	sectionsMu sync.RWMutex
	sections   = map[string]bool{}
)

// RegisterSection lets a plug-in, such as a policy type, own a top-level key of the
// config: Parse keeps its block for Section instead of rejecting the key as unknown. A
// key the Config reads itself (quiet_hours, caps) is decoded as before and is available
// through Section as well. It panics on an empty key: registration happens in init
// functions, where that is a programming error.
func RegisterSection(key string) {
	if key == "" {
		panic("config: RegisterSection needs a key")
	}
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	sections[key] = true
}

// Block is a block of the config file that its owner decodes itself.
type Block struct {
	// File and Line locate the block, for errors.
	File string
	Line int
	node *yaml.Node
}

// Decode fills v from the block strictly: unknown keys and bad values come back as
// yamlx.Errors at their lines.
func (b Block) Decode(v any) error {
	if b.node == nil {
		return nil
	}
	return yamlx.Decode(b.File, b.node, v)
}

// Same reports whether two blocks say the same, wherever in their files they stand.
func (b Block) Same(o Block) bool {
	if b.node == nil || o.node == nil {
		return b.node == o.node
	}
	x, errX := yaml.Marshal(b.node)
	y, errY := yaml.Marshal(o.node)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

// Section returns the block under the top-level key, and whether the file has the key.
func (c *Config) Section(key string) (Block, bool) {
	n, ok := c.sections[key]
	if !ok {
		return Block{File: c.File}, false
	}
	return Block{File: c.File, Line: n.Line, node: n}, true
}

// splitSections returns root without the registered keys that the Config does not read,
// and every top-level block by key.
func splitSections(root *yaml.Node) (*yaml.Node, map[string]*yaml.Node) {
	all := map[string]*yaml.Node{}
	if root.Kind != yaml.MappingNode {
		return root, all
	}
	own := ownKeys()
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	rest := *root
	rest.Content = nil
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		all[k.Value] = v
		if sections[k.Value] && !own[k.Value] {
			continue
		}
		rest.Content = append(rest.Content, k, v)
	}
	return &rest, all
}

// ownKeys are the top-level keys the Config struct reads.
func ownKeys() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			keys[tag] = true
		}
	}
	return keys
}
