package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/redistest"
)

// writeConfig writes a config on the shipped journeys and templates, with its Redis at
// redisURL and its API at addr, and returns its path.
func writeConfig(t *testing.T, redisURL, addr string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := fmt.Sprintf(`redis: {url: %q}
http: {addr: %q, base_url: "http://localhost", api_tokens: [t0k3n]}
secret: 0123456789abcdef0123
workflows: %q
templates: %q
worker: {shutdown_timeout: 2s}
channels:
  email: {type: outbox, dir: %q, from: "Shop <shop@example.com>"}
  support: {type: outbox, dir: %q, from: "Shop <shop@example.com>"}
`, redisURL, addr, filepath.Join(root, "workflows"), filepath.Join(root, "templates"), filepath.Join(dir, "outbox"), filepath.Join(dir, "support"))
	path := filepath.Join(dir, "rapport.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var quiet = slog.New(slog.DiscardHandler)

// TestAnAppStartsServesAndShutsDownCleanly runs both roles: once Start returns the API
// answers, and Shutdown returns no error and frees the port.
func TestAnAppStartsServesAndShutsDownCleanly(t *testing.T) {
	r := redistest.Start(t)
	addr := freeAddr(t)
	a, err := New(writeConfig(t, r.URL(), addr), Roles{Worker: true, API: true}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz: %d %s %v", resp.StatusCode, body, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port is still taken after Shutdown: %v", err)
	}
	ln.Close()
}

// TestAnAppThatCannotListenSaysSo checks that Start reports a taken port, and that
// Shutdown then releases what did start.
func TestAnAppThatCannotListenSaysSo(t *testing.T) {
	r := redistest.Start(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	a, err := New(writeConfig(t, r.URL(), taken.Addr().String()), Roles{API: true}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Run: %v; want the taken address reported", err)
	}
}
