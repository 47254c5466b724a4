// Package config reads Rapport's config file: one YAML file, ${VAR} and ${VAR:-default}
// expanded from the environment before parsing (so secrets stay out of the file and line
// numbers stay true), strictly decoded (an unknown key is an error), and validated. Every
// problem is reported as file:line: message.
//
// The shipped config/rapport.yaml is the embedded default a newcomer runs with nothing
// installed; config/rapport.example.yaml shows a production setup.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// Config is the whole config file.
type Config struct {
	// File is the path the config was read from.
	File       string                   `yaml:"-"`
	Redis      Redis                    `yaml:"redis"`
	HTTP       HTTP                     `yaml:"http"`
	Secret     string                   `yaml:"secret"`
	Workflows  string                   `yaml:"workflows"`
	Templates  string                   `yaml:"templates"`
	Defaults   Defaults                 `yaml:"defaults"`
	QuietHours *QuietHours              `yaml:"quiet_hours"`
	Caps       map[string]Cap           `yaml:"caps"`
	Channels   map[string]ChannelConfig `yaml:"channels"`
	Worker     Worker                   `yaml:"worker"`

	loc *time.Location
}

// Redis says where state and queues live. An empty URL runs an embedded in-process Redis
// that keeps nothing across restarts.
type Redis struct {
	URL string `yaml:"url"`
}

// HTTP configures the API.
type HTTP struct {
	Addr string `yaml:"addr"`
	// BaseURL is the public address of the API, used in unsubscribe links.
	BaseURL   string   `yaml:"base_url"`
	APITokens []string `yaml:"api_tokens"`
}

// Defaults apply to customers whose profile lacks the attribute.
type Defaults struct {
	Timezone string `yaml:"timezone"`
	Locale   string `yaml:"locale"`
}

// QuietHours is the local time span in which no message is sent.
type QuietHours struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// Cap limits messages per customer over a sliding window.
type Cap struct {
	Limit int               `yaml:"limit"`
	Per   duration.Duration `yaml:"per"`
}

// Worker tunes the task processor.
type Worker struct {
	// Concurrency is how many tasks one worker runs at once; default 20.
	Concurrency int `yaml:"concurrency"`
	// ShutdownTimeout bounds a graceful stop; default 10s.
	ShutdownTimeout duration.Duration `yaml:"shutdown_timeout"`
}

// ChannelConfig is one channel's block. The channel type decodes its own fields from it.
type ChannelConfig struct {
	Type string
	File string
	Line int
	node *yaml.Node
}

// UnmarshalYAML keeps the block for Decode.
func (c *ChannelConfig) UnmarshalYAML(n *yaml.Node) error {
	c.node, c.Line = n, n.Line
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a channel is a mapping with a type, like {type: smtp, ...}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			c.Type = n.Content[i+1].Value
		}
	}
	return nil
}

// Decode fills v, a channel type's config struct, from the block: unknown keys and bad
// values come back as file:line errors. The type key is skipped.
func (c ChannelConfig) Decode(v any) error {
	if c.node == nil {
		return nil
	}
	block := *c.node
	block.Content = nil
	for i := 0; i+1 < len(c.node.Content); i += 2 {
		if c.node.Content[i].Value != "type" {
			block.Content = append(block.Content, c.node.Content[i], c.node.Content[i+1])
		}
	}
	return yamlx.Decode(c.File, &block, v)
}

// Load reads the config file at path with the process environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

var varRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Expand replaces ${VAR} with the variable's value ("" when unset), ${VAR:-default} with
// the value or, when unset or empty, the default, and $$ with $.
func Expand(text string, lookup func(string) (string, bool)) string {
	return varRE.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := varRE.FindStringSubmatch(m)
		v, ok := lookup(sub[1])
		if sub[2] != "" && (!ok || v == "") {
			return sub[3]
		}
		return v
	})
}

// Parse reads config text from file, expanding variables with lookup.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	raw := string(data)
	root, err := yamlx.Parse(file, []byte(Expand(raw, lookup)))
	if err != nil {
		return nil, err
	}
	c := &Config{File: file}
	var errs yamlx.Errors
	errs.Add(file, yamlx.Decode(file, root, c))
	for name, ch := range c.Channels {
		ch.File = file
		c.Channels[name] = ch
	}
	c.defaults()
	c.validate(root, raw, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) defaults() {
	if c.HTTP.Addr == "" {
		c.HTTP.Addr = ":8080"
	}
	if c.Workflows == "" {
		c.Workflows = "workflows"
	}
	if c.Templates == "" {
		c.Templates = "templates"
	}
	if c.Defaults.Timezone == "" {
		c.Defaults.Timezone = "UTC"
	}
	if c.Defaults.Locale == "" {
		c.Defaults.Locale = "en"
	}
	if c.Worker.Concurrency == 0 {
		c.Worker.Concurrency = 20
	}
	if c.Worker.ShutdownTimeout == 0 {
		c.Worker.ShutdownTimeout = duration.Duration(10 * time.Second)
	}
}

// path finds the node at a dotted path of mapping keys, for error lines.
func path(root *yaml.Node, keys ...string) *yaml.Node {
	n := root
	for _, k := range keys {
		var next *yaml.Node
		if n != nil && n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

func (c *Config) validate(root *yaml.Node, raw string, errs *yamlx.Errors) {
	f := c.File
	if c.Redis.URL != "" {
		if _, err := redis.ParseURL(c.Redis.URL); err != nil {
			errs.Addf(f, path(root, "redis", "url"), "redis.url: %v", err)
		}
	}
	if !strings.Contains(c.HTTP.Addr, ":") {
		errs.Addf(f, path(root, "http", "addr"), "http.addr %q must be host:port or :port, like \":8080\"", c.HTTP.Addr)
	}
	if u, err := url.Parse(c.HTTP.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Addf(f, path(root, "http", "base_url"), "http.base_url %q must be an absolute http(s) URL: unsubscribe links are built on it", c.HTTP.BaseURL)
	}
	tokens := path(root, "http", "api_tokens")
	if len(c.HTTP.APITokens) == 0 {
		errs.Addf(f, tokens, "http.api_tokens needs at least one token")
	}
	for i, tok := range c.HTTP.APITokens {
		if tok == "" {
			n := tokens
			if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				n = n.Content[i]
			}
			errs.Addf(f, n, "http.api_tokens[%d] is empty%s", i, unsetHint(raw, n))
		}
	}
	if len(c.Secret) < 16 {
		n := path(root, "secret")
		errs.Addf(f, n, "secret must be at least 16 characters: it signs unsubscribe links%s", unsetHint(raw, n))
	}
	if loc, err := time.LoadLocation(c.Defaults.Timezone); err != nil {
		errs.Addf(f, path(root, "defaults", "timezone"), "defaults.timezone %q is not a known time zone", c.Defaults.Timezone)
	} else {
		c.loc = loc
	}
	if q := c.QuietHours; q != nil {
		if !hhmm.MatchString(q.Start) {
			errs.Addf(f, path(root, "quiet_hours", "start"), "quiet_hours.start %q is not a time like \"21:00\"", q.Start)
		}
		if !hhmm.MatchString(q.End) {
			errs.Addf(f, path(root, "quiet_hours", "end"), "quiet_hours.end %q is not a time like \"09:00\"", q.End)
		}
	}
	for _, name := range sortedKeys(c.Caps) {
		cp := c.Caps[name]
		if name != "all" {
			if _, ok := c.Channels[name]; !ok {
				errs.Addf(f, path(root, "caps", name), "caps.%s: no channel is called %s (use a channel name or all)", name, name)
			}
		}
		if cp.Limit <= 0 {
			errs.Addf(f, path(root, "caps", name), "caps.%s.limit must be at least 1", name)
		}
		if cp.Per <= 0 {
			errs.Addf(f, path(root, "caps", name), "caps.%s.per must be a duration like 7d", name)
		}
	}
	for _, name := range sortedKeys(c.Channels) {
		ch := c.Channels[name]
		if ch.Type == "" {
			errs.Addf(f, path(root, "channels", name), "channels.%s needs a type (%s)", name, strings.Join(channels.TypeNames(), ", "))
		}
	}
	if c.Worker.Concurrency < 0 {
		errs.Addf(f, path(root, "worker", "concurrency"), "worker.concurrency must be positive")
	}
}

// unsetHint names the ${VAR} on the node's line of the raw file, if one is there, since an
// empty value usually means an unset variable.
func unsetHint(raw string, n *yaml.Node) string {
	if n == nil || n.Line == 0 {
		return ""
	}
	lines := strings.Split(raw, "\n")
	if n.Line > len(lines) {
		return ""
	}
	if m := varRE.FindStringSubmatch(lines[n.Line-1]); m != nil && m[1] != "" {
		return fmt.Sprintf(" (is ${%s} set?)", m[1])
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Location returns the default time zone.
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// BuildChannels builds every configured channel through the channels registry. Every
// channel's problems are reported, each with its line.
func (c *Config) BuildChannels() (channels.Set, error) {
	set := channels.Set{}
	var errs yamlx.Errors
	for _, name := range sortedKeys(c.Channels) {
		cc := c.Channels[name]
		t, ok := channels.Lookup(cc.Type)
		if !ok {
			errs = append(errs, yamlx.Error{File: c.File, Line: cc.Line,
				Msg: fmt.Sprintf("channels.%s: unknown type %q (known: %s)", name, cc.Type, strings.Join(channels.TypeNames(), ", "))})
			continue
		}
		ch, err := t.New(cc.Decode)
		if err != nil {
			var many yamlx.Errors
			var one yamlx.Error
			if !errors.As(err, &many) && !errors.As(err, &one) {
				err = yamlx.Error{File: c.File, Line: cc.Line, Msg: fmt.Sprintf("channels.%s: %v", name, err)}
			}
			errs.Add(c.File, err)
			continue
		}
		set[name] = channels.Named{Name: name, Type: t, Channel: ch}
	}
	if err := errs.Err(); err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}
