package reload_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/reload"
)

func TestChangesAndSignalsReload(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	config := filepath.Join(other, "rapport.yaml")
	write(t, config, "a: 1")
	sig := make(chan os.Signal, 1)
	calls := make(chan string, 10)
	w := &reload.Watcher{Dirs: []string{dir}, Files: []string{config}, Signals: sig, Settle: 50 * time.Millisecond,
		Reload: func(reason string) { calls <- reason }}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := w.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })

	for i := 0; i < 5; i++ { // a burst is one reload
		write(t, filepath.Join(dir, "journey.yaml"), strings.Repeat("x", i))
	}
	if got := next(t, calls); !strings.Contains(got, "journey.yaml") {
		t.Fatalf("reload reason = %q, want the changed file", got)
	}
	write(t, filepath.Join(other, "unrelated.txt"), "x") // beside the config: ignored
	write(t, config+".tmp", "a: 2")
	if err := os.Rename(config+".tmp", config); err != nil { // an editor's atomic save
		t.Fatal(err)
	}
	if got := next(t, calls); !strings.Contains(got, "rapport.yaml") {
		t.Fatalf("reload reason = %q, want the config file", got)
	}
	sig <- syscall.SIGHUP
	if got := next(t, calls); got != "signal" {
		t.Fatalf("reload reason = %q, want signal", got)
	}
	select {
	case extra := <-calls:
		t.Fatalf("an extra reload: %q", extra)
	case <-time.After(300 * time.Millisecond):
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, calls chan string) string {
	t.Helper()
	select {
	case r := <-calls:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reload within 5s")
		return ""
	}
}
