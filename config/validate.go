package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// validator checks a decoded Config against its node tree, which gives the lines.
type validator struct {
	c     *Config
	root  *yaml.Node
	unset map[int][]string
	errs  yamlx.Errors
}

func (v *validator) addf(n *yaml.Node, format string, args ...any) {
	v.errs.Addf(v.c.File, n, format, args...)
}

// at finds the node at a path of mapping keys. When a key is missing it returns the
// deepest node found, so the error points at the enclosing block.
func (v *validator) at(keys ...string) *yaml.Node {
	n := v.root
	for _, k := range keys {
		next := yamlx.Field(n, k)
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

// has reports whether the whole path of keys is present.
func (v *validator) has(keys ...string) bool {
	n := v.root
	for _, k := range keys {
		if n = yamlx.Field(n, k); n == nil {
			return false
		}
	}
	return true
}

// unsetHint names the variables without default on n's line that were unset or empty,
// since an empty required value usually means one of them.
func (v *validator) unsetHint(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	names := v.unset[n.Line]
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (environment variable %s is unset or empty)", strings.Join(names, ", "))
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

func (v *validator) validate() {
	c := v.c
	v.redis()
	v.relationship()

	if _, port, err := net.SplitHostPort(c.HTTP.Addr); err != nil || !validPort(port) {
		v.addf(v.at("http", "addr"), "http.addr %q must be host:port or :port, like \":8080\"", c.HTTP.Addr)
	}
	if n := v.at("http", "base_url"); c.HTTP.BaseURL == "" {
		v.addf(n, "http.base_url is required: the public http(s) address of this API, used in unsubscribe links%s", v.unsetHint(n))
	} else if u, err := url.Parse(c.HTTP.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.addf(n, "http.base_url %q must be an absolute http(s) URL like https://rapport.shop.example", c.HTTP.BaseURL)
	}
	tokens := v.at("http", "api_tokens")
	if len(c.HTTP.APITokens) == 0 {
		v.addf(tokens, "http.api_tokens needs at least one token")
	}
	for i, tok := range c.HTTP.APITokens {
		if strings.TrimSpace(tok) != "" {
			continue
		}
		n := tokens
		if n.Kind == yaml.SequenceNode && i < len(n.Content) {
			n = n.Content[i]
		}
		v.addf(n, "http.api_tokens[%d] is empty%s", i, v.unsetHint(n))
	}

	if len(c.Secret) < 16 {
		n := v.at("secret")
		v.addf(n, "secret must be at least 16 characters (it signs unsubscribe links), has %d%s", len(c.Secret), v.unsetHint(n))
	}
	prev := v.at("previous_secrets")
	for i, s := range c.PreviousSecrets {
		n := prev
		if n.Kind == yaml.SequenceNode && i < len(n.Content) {
			n = n.Content[i]
		}
		switch {
		case len(s) < 16:
			v.addf(n, "previous_secrets[%d] must be at least 16 characters, has %d%s", i, len(s), v.unsetHint(n))
		case s == c.Secret:
			v.addf(n, "previous_secrets[%d] is the current secret; list only secrets rotated out", i)
		}
	}

	if loc, err := time.LoadLocation(c.Defaults.Timezone); err != nil || c.Defaults.Timezone == "Local" {
		v.addf(v.at("defaults", "timezone"), "defaults.timezone %q is not a known IANA time zone like UTC or Europe/Berlin", c.Defaults.Timezone)
	} else {
		c.loc = loc
	}

	if q := c.QuietHours; q != nil {
		if !hhmm.MatchString(q.Start) {
			v.addf(v.at("quiet_hours", "start"), "quiet_hours.start %q is not a time like \"21:00\"", q.Start)
		}
		if !hhmm.MatchString(q.End) {
			v.addf(v.at("quiet_hours", "end"), "quiet_hours.end %q is not a time like \"09:00\"", q.End)
		}
	}

	for _, name := range sortedKeys(c.Caps) {
		cp := c.Caps[name]
		if name != "all" {
			// The node, not c.Channels: a malformed channel block is not decoded but exists.
			if yamlx.Field(yamlx.Field(v.root, "channels"), name) == nil {
				v.addf(keyNode(v.at("caps"), name), "caps.%s: no channel is called %q (a cap is keyed by a channel name or \"all\"; channels: %s)",
					name, name, channelNames(yamlx.Field(v.root, "channels")))
			}
		}
		// A value that failed to decode was reported by the decoder already.
		if ln := v.at("caps", name, "limit"); !v.has("caps", name, "limit") || (isInt(ln) && cp.Limit <= 0) {
			v.addf(ln, "caps.%s.limit must be at least 1", name)
		}
		if pn := v.at("caps", name, "per"); !v.has("caps", name, "per") || (isDuration(pn) && cp.Per <= 0) {
			v.addf(pn, "caps.%s.per must be a duration above zero, like 7d", name)
		}
	}

	for _, name := range sortedKeys(c.Channels) {
		ch := c.Channels[name]
		if ch.node == nil || ch.node.Kind != yaml.MappingNode {
			continue // reported by UnmarshalYAML
		}
		if strings.TrimSpace(ch.Type) == "" {
			v.addf(ch.node, "channels.%s needs a type (one of: %s)", name, strings.Join(channels.TypeNames(), ", "))
		}
	}

	v.inbound()

	if a := c.Worker.MetricsAddr; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || !validPort(port) {
			v.addf(v.at("worker", "metrics_addr"), "worker.metrics_addr %q must be host:port or :port, like \":9090\"", a)
		}
	}
	if n := v.at("worker", "step_queues"); isInt(n) && (c.Worker.StepQueues < 0 || c.Worker.StepQueues > 1024) {
		v.addf(n, "worker.step_queues must be between 1 and 1024 (0 or absent: 1 on one server, 16 on a cluster)")
	}
	if n := v.at("worker", "concurrency"); isInt(n) && c.Worker.Concurrency < 0 {
		v.addf(n, "worker.concurrency must be at least 1")
	}
	if n := v.at("worker", "poll_interval"); v.has("worker", "poll_interval") && isDuration(n) {
		// Read from the node: a written 0s must not pass as the default.
		if d, err := duration.Parse(n.Value); err == nil && (d < time.Second || d > time.Minute) {
			v.addf(n, "worker.poll_interval must be from 1s to 1m")
		}
	}
	if n := v.at("attribution", "window"); v.has("attribution", "window") && isDuration(n) {
		if d, err := duration.Parse(n.Value); err == nil && d <= 0 {
			v.addf(n, "attribution.window must be a duration above zero, like 5d")
		}
	}
}

// keyNode returns the key node named key in mapping m (its line is where the entry
// starts), or m itself.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i]
			}
		}
	}
	return m
}

// channelNames lists the keys of the channels mapping, or "none".
func channelNames(m *yaml.Node) string {
	var names []string
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			names = append(names, m.Content[i].Value)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func isInt(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	var i int
	return n.Decode(&i) == nil
}

func isDuration(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	_, err := duration.Parse(n.Value)
	return err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// redis checks that exactly one topology is given and that its addresses are usable.
func (v *validator) redis() {
	r := v.c.Redis
	var given []string
	if r.URL != "" {
		given = append(given, "url")
	}
	if v.has("redis", "cluster") {
		given = append(given, "cluster")
	}
	if v.has("redis", "sentinel") {
		given = append(given, "sentinel")
	}
	if len(given) > 1 {
		v.addf(v.at("redis"), "redis has %s: give exactly one of url (one server), cluster (seed nodes) or sentinel (failover)",
			strings.Join(given, " and "))
	}
	if r.URL != "" {
		n := v.at("redis", "url")
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			v.addf(n, "redis.url must be a redis:// or rediss:// URL, like redis://127.0.0.1:6379/0, or empty for the embedded Redis")
		} else if _, err := redis.ParseURL(r.URL); err != nil {
			v.addf(n, "redis.url: %v", err)
		}
	}
	if v.has("redis", "cluster") {
		n := v.at("redis", "cluster")
		if len(r.Cluster) == 0 {
			v.addf(n, `redis.cluster needs at least one seed node, like ["10.0.0.1:7000"]`)
		}
		v.addrs(n, "redis.cluster", r.Cluster)
	}
	if v.has("redis", "sentinel") {
		s := r.Sentinel
		if s == nil {
			s = &Sentinel{}
		}
		if strings.TrimSpace(s.Master) == "" {
			v.addf(v.at("redis", "sentinel", "master"), "redis.sentinel.master is required: the master group name, like mymaster")
		}
		n := v.at("redis", "sentinel", "addrs")
		if len(s.Addrs) == 0 {
			v.addf(n, `redis.sentinel.addrs needs at least one Sentinel, like ["10.0.0.1:26379"]`)
		}
		v.addrs(n, "redis.sentinel.addrs", s.Addrs)
	}
	if r.URL != "" && (r.Password != "" || r.Username != "") {
		v.addf(v.at("redis", "password"), "redis.password and redis.username go with cluster or sentinel; put them in redis.url instead")
	}
}

// addrs checks a list of host:port addresses, pointing at the bad entry.
func (v *validator) addrs(list *yaml.Node, name string, addrs []string) {
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err == nil && host != "" && validPort(port) && port != "0" {
			continue
		}
		n := list
		if list.Kind == yaml.SequenceNode && i < len(list.Content) {
			n = list.Content[i]
		}
		v.addf(n, "%s[%d] %q must be host:port, like 10.0.0.1:7000%s", name, i, a, v.unsetHint(n))
	}
}
