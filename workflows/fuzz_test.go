package workflows

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// FuzzLoadFile: a journey file either loads into a journey with an id and steps, or is
// refused with file:line errors; it never panics.
func FuzzLoadFile(f *testing.F) {
	files, _ := filepath.Glob("*.yaml")
	more, _ := filepath.Glob("testdata/*/*.yaml")
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("id: x\ntrigger: {event: a}\nsteps: [{id: s, wait: 1d, send: {template: t, channels: [email]}}]\n"))
	f.Add([]byte("trigger: {date: customer.birthday, at: \"25:00\"}\nsteps: []\n"))
	f.Add([]byte("trigger: {inactivity: {event: order.placed, after: 60d}}\nsteps: [{id: s, if: 'customer.x >', send: {template: t, channels: [preferred]}}]\n"))
	opts := Options{
		HasTemplate: func(name string, _ channels.Kind) bool { return name == "t" },
		Channel: func(name string) (channels.Kind, bool) {
			return channels.KindEmail, name == "email"
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := LoadFile("j.yaml", data, opts)
		if err != nil {
			var errs yamlx.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("LoadFile refused %q with %T %v, want file:line errors", data, err, err)
			}
			for _, e := range errs {
				if e.File != "j.yaml" || e.Msg == "" {
					t.Fatalf("LoadFile(%q): error %+v does not name the file and say what is wrong", data, e)
				}
			}
			return
		}
		if j == nil || j.ID == "" || len(j.Steps) == 0 {
			t.Fatalf("LoadFile(%q) = %+v without an error", data, j)
		}
		if _, err := NewSet([]*Journey{j}); err != nil {
			t.Fatalf("a journey that loaded does not make a set: %v", err)
		}
	})
}
