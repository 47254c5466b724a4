// Package dashboard serves the asynq queue dashboard (asynqmon) for Rapport's queues, with
// each task's payload shown in words: the event's type and customer, the step's journey,
// step and customer, the timer's journey and customer. Authentication is the caller's
// job: mount the handler behind it.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
)

// Root is the URL path the dashboard is served under.
const Root = "/monitoring"

// Dial opens a new connection to Rapport's Redis; the dashboard owns and closes what it
// opens.
type Dial func() redis.UniversalClient

// MakeRedisClient makes Dial an asynq.RedisConnOpt.
func (d Dial) MakeRedisClient() any { return d() }

// New returns the dashboard handler for paths under Root, read-only unless writable:
// operators may then retry, archive or delete tasks from the page. Close it at shutdown.
func New(dial Dial, writable bool) *asynqmon.HTTPHandler {
	return asynqmon.New(asynqmon.Options{
		RootPath:         Root,
		RedisConnOpt:     dial,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(FormatPayload),
		ReadOnly:         !writable,
	})
}

// FormatPayload shows a task's payload in words. Events read as
// "event order.placed customer=c-42 id=evt-1"; steps and timers, whose payloads are the
// engine's compact JSON, as "journey=welcome customer=c-42" (their task IDs name the step
// and the due time; tasks of earlier versions show "step=1 ... due=..." too). Anything
// else is shown as it is.
func FormatPayload(taskType string, payload []byte) string {
	if taskType == event.TaskType {
		ev, err := event.Unmarshal(payload)
		if err != nil {
			return "unreadable event: " + err.Error()
		}
		return fmt.Sprintf("event %s customer=%s id=%s occurred_at=%s", ev.Type, ev.CustomerID, ev.ID,
			ev.OccurredAt.UTC().Format(time.RFC3339))
	}
	var fields map[string]any
	if err := json.Unmarshal(payload, &fields); err != nil || !strings.HasPrefix(taskType, "rapport:") {
		return asynqmon.DefaultPayloadFormatter.FormatPayload(taskType, payload)
	}
	var parts []string
	for _, k := range []string{"j", "s", "c", "e", "d", "i"} {
		if v, ok := fields[k]; ok {
			parts = append(parts, names[k]+"="+value(k, v))
			delete(fields, k)
		}
	}
	rest := make([]string, 0, len(fields))
	for k, v := range fields {
		rest = append(rest, k+"="+fmt.Sprint(v))
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), " ")
}

// names spells out the engine's one-letter payload keys.
var names = map[string]string{"j": "journey", "s": "step", "c": "customer", "e": "enrolment", "d": "due", "i": "index"}

func value(key string, v any) string {
	if n, ok := v.(float64); ok {
		if key == "d" { // unix milliseconds (steps) or seconds (timers)
			t := time.Unix(int64(n), 0)
			if n > 1e11 {
				t = time.UnixMilli(int64(n))
			}
			return t.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("%.0f", n)
	}
	return fmt.Sprint(v)
}

// CSP is the Content-Security-Policy the dashboard's page needs, for h as New made it:
// its scripts and styles from Rapport itself, its two inline scripts by their hashes,
// Google's fonts (which it links to for its text and icons), its API calls to Rapport,
// and no framing by any site.
func CSP(h http.Handler) string {
	page := &recorder{header: http.Header{}}
	h.ServeHTTP(page, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: Root + "/"}, Header: http.Header{}})
	scripts := "'self'"
	for _, m := range inlineScript.FindAllStringSubmatch(page.body.String(), -1) {
		sum := sha256.Sum256([]byte(m[1]))
		scripts += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'self'; script-src " + scripts + "; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; " +
		"font-src 'self' https://fonts.gstatic.com data:; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
}

// inlineScript matches a script element without a src attribute, capturing its text.
var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// recorder keeps the page the dashboard writes, for CSP.
type recorder struct {
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}
