package config

import (
	"fmt"
	"os"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// Config is the whole config file, expanded, defaulted and validated.
type Config struct {
	// File is the path the config was read from; errors name it.
	File string `yaml:"-"`
	// Redis says where state and queues live.
	Redis Redis `yaml:"redis"`
	// HTTP configures the API server.
	HTTP HTTP `yaml:"http"`
	// Secret signs the public links (unsubscribe, feedback, ...); at least 16 characters.
	Secret string `yaml:"secret"`
	// PreviousSecrets still verify links signed before Secret was rotated; new links are
	// signed with Secret alone. Each at least 16 characters. See docs/configuration-links.md.
	PreviousSecrets []string `yaml:"previous_secrets"`
	// Workflows is the directory of journey files; default "workflows".
	Workflows string `yaml:"workflows"`
	// Templates is the directory of message templates; default "templates".
	Templates string `yaml:"templates"`
	// Defaults apply to customers whose profile lacks the attribute.
	Defaults Defaults `yaml:"defaults"`
	// QuietHours, when set, holds messages back during the night; nil when absent.
	QuietHours *QuietHours `yaml:"quiet_hours"`
	// Caps limit messages per customer, by channel name or "all".
	Caps map[string]Cap `yaml:"caps"`
	// Channels are the configured transports by name; BuildChannels builds them.
	Channels map[string]ChannelConfig `yaml:"channels"`
	// Worker tunes the task processor.
	Worker Worker `yaml:"worker"`
	// Inbound configures what Rapport hears back: the inbound SMTP server and the
	// soft-bounce limit.
	Inbound Inbound `yaml:"inbound"`
	// Tracking configures click tracking.
	Tracking Tracking `yaml:"tracking"`
	// Loyalty holds the loyalty tiers (see relationship.go).
	Loyalty Loyalty `yaml:"loyalty"`
	// Topics are the topics a customer may opt out of, with their titles per locale;
	// DefaultTopics when the file lists none.
	Topics map[string]Topic `yaml:"topics"`
	// Attribution says which orders count for which message (experiments.md).
	Attribution Attribution `yaml:"attribution"`

	loc *time.Location
	// sections are the top-level blocks by key, for Section.
	sections map[string]*yaml.Node
	// unset lists, per line, the variables without default that were unset or empty.
	unset map[int][]string
}

// Redis says where state and queues live: exactly one of URL, Cluster and Sentinel, or
// none for the embedded in-process Redis.
type Redis struct {
	// URL is a redis:// or rediss:// URL of one server. Empty (with no Cluster or
	// Sentinel) runs an embedded in-process Redis that keeps nothing across restarts.
	URL string `yaml:"url"`
	// Cluster lists seed nodes ("host:port") of a Redis Cluster.
	Cluster []string `yaml:"cluster"`
	// Sentinel names a master watched by Redis Sentinel, for failover.
	Sentinel *Sentinel `yaml:"sentinel"`
	// Username and Password authenticate to the cluster nodes or the Sentinel-managed
	// master; a URL carries its own.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Sentinel names a master group and the Sentinels that watch it.
type Sentinel struct {
	// Master is the master group name, like "mymaster".
	Master string `yaml:"master"`
	// Addrs are the Sentinels' "host:port" addresses.
	Addrs []string `yaml:"addrs"`
	// Password authenticates to the Sentinels themselves, when they require it.
	Password string `yaml:"password"`
}

// Embedded reports whether no Redis is configured, so the in-process one runs.
func (r Redis) Embedded() bool { return r.URL == "" && len(r.Cluster) == 0 && r.Sentinel == nil }

// HTTP configures the API server.
type HTTP struct {
	// Addr is the listen address, like ":8080"; default ":8080".
	Addr string `yaml:"addr"`
	// BaseURL is the public absolute address of the API, used in unsubscribe links.
	BaseURL string `yaml:"base_url"`
	// APITokens are the accepted bearer tokens; at least one, none empty.
	APITokens []string `yaml:"api_tokens"`
}

// Defaults apply to customers whose profile lacks the attribute.
type Defaults struct {
	// Timezone is an IANA zone name; default "UTC".
	Timezone string `yaml:"timezone"`
	// Locale picks template variants; default "en".
	Locale string `yaml:"locale"`
}

// QuietHours is the span of local time, "HH:MM" to "HH:MM", in which nothing is sent. End
// may be earlier than Start, meaning the span crosses midnight.
type QuietHours struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// Cap allows at most Limit messages per customer in any window of length Per.
type Cap struct {
	Limit int               `yaml:"limit"`
	Per   duration.Duration `yaml:"per"`
}

// Attribution says which orders count for which message: an order.placed is attributed
// to the customer's latest clicked message within Window, else the latest sent one.
type Attribution struct {
	// Window is how long after a message an order still counts for it; default 5d.
	Window duration.Duration `yaml:"window"`
}

// DefaultAttributionWindow is attribution.window when the config does not set it.
const DefaultAttributionWindow = 5 * 24 * time.Hour

// Worker tunes the task processor.
type Worker struct {
	// Concurrency is how many tasks one worker runs at once; default 20.
	Concurrency int `yaml:"concurrency"`
	// ShutdownTimeout bounds a graceful stop; default 10s.
	ShutdownTimeout duration.Duration `yaml:"shutdown_timeout"`
	// PollInterval is how often due scheduled steps and timers are moved to run, from 1s
	// to 1m; default 1s. A step may start up to this long after it fell due, never before.
	PollInterval duration.Duration `yaml:"poll_interval"`
	// MetricsAddr, when set, is where `rapport worker` (which has no HTTP API) serves
	// /metrics, /healthz and /readyz, like ":9090". `serve` and `api` serve them on
	// http.addr.
	MetricsAddr string `yaml:"metrics_addr"`
	// StepQueues is how many queues steps and timers are spread over; 0 means 1 on one
	// server and 16 on a Redis Cluster, where each queue lives on one node. Every
	// process of a deployment must use the same number; raising it later is safe.
	StepQueues int `yaml:"step_queues"`
}

// Load reads the config file at path, expanding variables from the process environment.
// A read failure is wrapped with the path; problems in the file come back as yamlx.Errors,
// with the Config as far as it could be read (see Parse).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on bytes: file names the source in errors, and lookup (os.LookupEnv, or a
// fake in tests) resolves variables. Every problem found is returned together as
// yamlx.Errors. Unless the file is not YAML at all, the Config comes back with the
// errors, read as far as it could be and defaulted, so that `rapport validate` can go on
// to check the channels, journeys and templates it names; a caller that runs with it must
// check the error first.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	x := expand(file, string(data), lookup)
	errs := x.errs // a malformed reference stays as written; the rest is still checked
	root, err := yamlx.Parse(file, []byte(x.text))
	if err != nil {
		errs.Add(file, err)
		return nil, errs.Err()
	}
	c := &Config{File: file}
	own, sections := splitSections(root)
	c.sections = sections
	errs.Add(file, yamlx.Decode(file, own, c))
	for name, ch := range c.Channels {
		ch.File = file
		c.Channels[name] = ch
	}
	c.applyDefaults()
	c.unset = x.unset
	v := validator{c: c, root: root, unset: x.unset}
	v.validate()
	errs = append(errs, v.errs...)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return c, errs.Err()
}

func (c *Config) applyDefaults() {
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
	if c.Topics == nil {
		c.Topics = DefaultTopics()
	}
	if c.Worker.Concurrency == 0 {
		c.Worker.Concurrency = 20
	}
	if c.Worker.ShutdownTimeout == 0 {
		c.Worker.ShutdownTimeout = duration.Duration(10 * time.Second)
	}
	if c.Worker.PollInterval == 0 {
		c.Worker.PollInterval = duration.Duration(time.Second)
	}
	if c.Inbound.SoftBounceLimit == 0 {
		c.Inbound.SoftBounceLimit = 3
	}
	if c.Attribution.Window == 0 {
		c.Attribution.Window = duration.Duration(DefaultAttributionWindow)
	}
}

// Location returns the default time zone (Defaults.Timezone), UTC when unset.
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// ChannelConfig is one channel's block of the config. It keeps the YAML so that the
// channel type can decode its own fields with Decode.
type ChannelConfig struct {
	// Type names the registered channel type, e.g. "smtp".
	Type string
	// File and Line locate the block, for errors.
	File string
	Line int
	node *yaml.Node
}

// UnmarshalYAML keeps the block for Decode and reads its type.
func (c *ChannelConfig) UnmarshalYAML(n *yaml.Node) error {
	c.node, c.Line = n, n.Line
	if n.Kind != yaml.MappingNode {
		// A *yaml.TypeError lets the decoder go on to the file's other problems.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: a channel is a mapping with a type, like {type: smtp, host: ...}", n.Line)}}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			c.Type = n.Content[i+1].Value
		}
	}
	return nil
}

// Decode fills v, a channel type's config struct, from the block, strictly: unknown keys
// and bad values come back as yamlx.Errors at their lines. The type, rate and events
// keys, which config reads itself for every channel (listeningKeys), are skipped.
func (c ChannelConfig) Decode(v any) error {
	if c.node == nil {
		return nil
	}
	block := *c.node
	block.Content = nil
	for i := 0; i+1 < len(c.node.Content); i += 2 {
		if k := c.node.Content[i].Value; !listeningKeys[k] {
			block.Content = append(block.Content, c.node.Content[i], c.node.Content[i+1])
		}
	}
	return yamlx.Decode(c.File, &block, v)
}
