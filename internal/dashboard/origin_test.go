package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/dashboard"
	"github.com/rapporthq/rapport/internal/redistest"
)

// A page elsewhere must not make a logged-in browser pause Rapport's queues: a change
// needs the Origin (or Referer) of Rapport's own base_url.
func TestTheDashboardTakesChangesOnlyFromItsOwnOrigin(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	dash := dashboard.New(func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: rs.Addr}) }, true)
	t.Cleanup(func() { dash.Close() })
	const base = "https://rapport.shop.example"
	srv := httptest.NewServer(api.New(api.Options{Tokens: []string{token}, Intake: client.NewFromRedis(rdb),
		Monitoring: dash, BaseURL: base}))
	t.Cleanup(srv.Close)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	// The queue must exist for asynqmon to pause it.
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("rapport:step", []byte("{}")),
		asynq.Queue("steps"), asynq.ProcessIn(1e12)); err != nil {
		t.Fatal(err)
	}
	paused := func() bool {
		t.Helper()
		info, err := insp.GetQueueInfo("steps")
		if err != nil {
			t.Fatal(err)
		}
		return info.Paused
	}

	cases := []struct {
		name   string
		method string
		path   string
		set    func(*http.Request)
		want   int
	}{
		{"a foreign Origin cannot pause a queue", "POST", "steps:pause", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Origin", "https://evil.example")
		}, http.StatusForbidden},
		{"a foreign Origin is refused with a bearer token too", "POST", "steps:pause", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+token)
			r.Header.Set("Origin", "https://evil.example")
		}, http.StatusForbidden},
		{"a foreign Referer without an Origin is refused", "POST", "steps:pause", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Referer", "https://evil.example/page")
		}, http.StatusForbidden},
		{"the origin null (a sandboxed page) is refused", "POST", "steps:pause", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Origin", "null")
		}, http.StatusForbidden},
		{"another port of the same host is another origin", "POST", "steps:pause", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Origin", base+":8443")
		}, http.StatusForbidden},
		{"a browser's password without Origin or Referer is refused", "DELETE", "steps", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
		}, http.StatusForbidden},
		{"the same origin pauses", "POST", "steps:pause", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Origin", "HTTPS://Rapport.Shop.Example:443")
		}, http.StatusNoContent},
		{"the same origin's Referer resumes", "POST", "steps:resume", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Referer", base+"/monitoring/queues/steps")
		}, http.StatusNoContent},
		{"a program with a bearer token and no Origin pauses", "POST", "steps:pause", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+token)
		}, http.StatusNoContent},
		{"reading needs no Origin", "GET", "steps", func(r *http.Request) {
			r.SetBasicAuth("ops", token)
			r.Header.Set("Origin", "https://evil.example")
		}, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := paused()
			req, err := http.NewRequest(c.method, srv.URL+"/monitoring/api/queues/"+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
			}
			if c.want == http.StatusForbidden && paused() != before {
				t.Fatalf("a refused request changed the queue: paused %v -> %v", before, paused())
			}
		})
	}
	if !paused() {
		t.Fatal("the queue is not paused after the bearer token's pause")
	}
}
