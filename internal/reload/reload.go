// Package reload calls a function when watched files change (fsnotify) or a signal such
// as SIGHUP arrives. Changes that come in a burst, as when an editor saves or a deploy
// copies a directory, make one call.
package reload

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultSettle is how long the watcher waits after the last change before it calls.
const DefaultSettle = 250 * time.Millisecond

// Watcher watches directories (every file in them, not their subdirectories) and single
// files.
type Watcher struct {
	// Dirs are watched for any file created, written, renamed or removed in them.
	Dirs []string
	// Files are watched by name, through their directory, so an editor that replaces a
	// file (write to a temporary, rename over) is seen too.
	Files []string
	// Signals, when not nil, asks for a reload on every value received (SIGHUP).
	Signals <-chan os.Signal
	// Settle is the quiet time after the last change before Reload runs; default
	// DefaultSettle.
	Settle time.Duration
	// Reload does the work; it runs on the watcher's goroutine, one call at a time.
	Reload func(reason string)
	Logger *slog.Logger
}

// Start sets up the watches and watches in the background until ctx ends; the returned
// channel is closed then. It fails only when the watches cannot be set up.
func (w *Watcher) Start(ctx context.Context) (<-chan struct{}, error) {
	if w.Settle <= 0 {
		w.Settle = DefaultSettle
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch for changes: %w", err)
	}
	files := map[string]bool{}
	watched := map[string]bool{}
	add := func(dir string) error {
		dir = filepath.Clean(dir)
		if watched[dir] {
			return nil
		}
		watched[dir] = true
		if err := fw.Add(dir); err != nil {
			return fmt.Errorf("watch %s: %w", dir, err)
		}
		return nil
	}
	for _, d := range w.Dirs {
		if err := add(d); err != nil {
			fw.Close()
			return nil, err
		}
	}
	dirOfFile := map[string]bool{}
	for _, f := range w.Files {
		f = filepath.Clean(f)
		files[f] = true
		dir := filepath.Dir(f)
		if !watched[dir] {
			dirOfFile[dir] = true
		}
		if err := add(dir); err != nil {
			fw.Close()
			return nil, err
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer fw.Close()
		w.loop(ctx, fw, files, dirOfFile)
	}()
	return done, nil
}

func (w *Watcher) loop(ctx context.Context, fw *fsnotify.Watcher, files, dirOfFile map[string]bool) {

	var settle <-chan time.Time
	var timer *time.Timer
	reason := ""
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			name := filepath.Clean(ev.Name)
			if dirOfFile[filepath.Dir(name)] && !files[name] {
				continue // another file beside a watched file
			}
			if ev.Op == fsnotify.Chmod || hidden(name) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(w.Settle)
			} else {
				timer.Reset(w.Settle)
			}
			settle = timer.C
			reason = "changed: " + name
		case err, ok := <-fw.Errors:
			if ok {
				w.Logger.Warn("watching for changes", "err", err)
			}
		case <-w.Signals:
			w.Reload("signal")
		case <-settle:
			settle = nil
			w.Reload(reason)
		}
	}
}

// hidden skips editors' swap and backup files (.x.swp, x~, #x#).
func hidden(name string) bool {
	base := filepath.Base(name)
	return strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") || strings.HasPrefix(base, "#")
}
