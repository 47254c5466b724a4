package dashboard_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/dashboard"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/web"
)

// The dashboard still runs under its Content-Security-Policy: in headless Chromium its
// scripts (its own files and its two inline ones, by hash) build the page and read the
// queues from Rapport's API.
func TestTheDashboardRunsInABrowserUnderItsPolicy(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the browser test is skipped")
	}
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	if _, err := client.NewFromRedis(rdb).Send(context.Background(), event.Event{ID: "evt-1", Type: "order.placed", CustomerID: "c-1"}); err != nil {
		t.Fatal(err)
	}
	dash := dashboard.New(func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: rs.Addr}) }, true)
	t.Cleanup(func() { dash.Close() })
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = web.SecurityHeaders(api.New(api.Options{Tokens: []string{token}, Intake: client.NewFromRedis(rdb),
		Monitoring: dash, BaseURL: "http://" + srv.Listener.Addr().String()}),
		map[string]string{dashboard.Root + "/": dashboard.CSP(dash)})
	srv.Start()
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := strings.Replace(srv.URL, "http://", "http://ops:"+token+"@", 1) + "/monitoring/"
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	if strings.Contains(stderr.String(), "Content Security Policy") {
		t.Errorf("the browser reports a policy violation:\n%s", stderr.String())
	}
	// The queue table is drawn from GET /monitoring/api/queues: the scripts ran and
	// reached the API.
	if !strings.Contains(dom, "events") || strings.Contains(dom, `<div id="root"></div>`) {
		t.Fatalf("the dashboard did not render its queues:\n%.3000s\n%s", dom, stderr.String())
	}
}
