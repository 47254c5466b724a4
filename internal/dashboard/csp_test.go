package dashboard_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/dashboard"
)

func TestTheDashboardPolicyAllowsItsOwnInlineScriptsByHash(t *testing.T) {
	dash := dashboard.New(func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) }, true)
	t.Cleanup(func() { dash.Close() })
	csp := dashboard.CSP(dash)
	if n := strings.Count(csp, "'sha256-"); n != 2 {
		t.Errorf("the policy allows %d inline scripts by hash, want the page's 2: %s", n, csp)
	}
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self' "} {
		if !strings.Contains(csp, want) {
			t.Errorf("the policy lacks %q: %s", want, csp)
		}
	}
	for _, d := range strings.Split(csp, ";") {
		if strings.HasPrefix(strings.TrimSpace(d), "script-src") && strings.Contains(d, "unsafe-inline") {
			t.Errorf("any inline script may run: %s", d)
		}
	}
}
