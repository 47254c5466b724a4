package doclinks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// maxREADME is the most bytes README.md may have: the rest belongs in docs/.
const maxREADME = 12 * 1024

// brokenLink is a link that leads nowhere: the file and line it is on, the target as written,
// and why.
type brokenLink struct {
	File   string
	Line   int
	Target string
	Why    string
}

func (b brokenLink) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", b.File, b.Line, b.Target, b.Why)
}

var (
	link     = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	codeSpan = regexp.MustCompile("`[^`]*`")
	scheme   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// check reads the Markdown files and returns every relative link among them that names a
// file that does not exist, or an anchor that is not a heading of its Markdown file.
// Links with a scheme (https:, mailto:) are not followed.
func check(files []string) ([]brokenLink, error) {
	known := map[string]map[string]bool{} // anchors by cleaned path
	var broken []brokenLink
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for _, line := range proseLines(string(data)) {
			for _, m := range link.FindAllStringSubmatch(codeSpan.ReplaceAllString(line.text, "x"), -1) {
				target := m[1]
				if scheme.MatchString(target) {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				dest := filepath.Clean(file)
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
					if _, err := os.Stat(dest); err != nil {
						broken = append(broken, brokenLink{file, line.n, target, "no such file"})
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(dest, ".md") {
					continue
				}
				if known[dest] == nil {
					b, err := os.ReadFile(dest)
					if err != nil {
						return nil, err
					}
					known[dest] = anchors(string(b))
				}
				if !known[dest][anchor] {
					broken = append(broken, brokenLink{file, line.n, target, "no heading with this anchor in " + filepath.ToSlash(dest)})
				}
			}
		}
	}
	return broken, nil
}

// numbered is a line of a file and its number, from 1.
type numbered struct {
	n    int
	text string
}

// proseLines returns the lines of a Markdown text that are outside fenced code blocks.
func proseLines(text string) []numbered {
	var out []numbered
	fenced := false
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, numbered{i + 1, line})
		}
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of a Markdown text: each heading's
// slug, with -1, -2, ... added to a slug seen before.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(text) {
		title, ok := heading(line.text)
		if !ok {
			continue
		}
		s := slug(title)
		if k := seen[s]; k > 0 {
			out[fmt.Sprintf("%s-%d", s, k)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// heading returns the title of an ATX heading line ("## Title").
func heading(line string) (string, bool) {
	hashes := len(line) - len(strings.TrimLeft(line, "#"))
	if hashes == 0 || hashes > 6 || len(line) == hashes || line[hashes] != ' ' {
		return "", false
	}
	return strings.TrimSpace(line[hashes:]), true
}

// slug is GitHub's anchor for a heading title: lower case, every character but letters,
// digits, spaces, hyphens and underscores dropped, spaces made hyphens.
func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestTheReadmeAndDocsLinksAllResolve(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no docs/*.md found")
	}
	files = append([]string{"../../README.md"}, files...)
	broken, err := check(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Errorf("%s", b)
	}
}

func TestTheReadmeIsAtMost12KB(t *testing.T) {
	info, err := os.Stat("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > maxREADME {
		t.Fatalf("README.md is %d bytes, more than %d: move the detail into docs/", info.Size(), maxREADME)
	}
}

func TestSlugIsGitHubsAnchor(t *testing.T) {
	cases := map[string]string{
		"Two commands":                         "two-commands",
		"Journeys (`workflows/*.yaml`)":        "journeys-workflowsyaml",
		"Config (`config/rapport.yaml`)":       "config-configrapportyaml",
		"HTTP API and Go client":               "http-api-and-go-client",
		"A Sentinel failover: once, not twice": "a-sentinel-failover-once-not-twice",
		"rapport bench":                        "rapport-bench",
		"Über_alles 2":                         "über_alles-2",
	}
	for title, want := range cases {
		if got := slug(title); got != want {
			t.Errorf("slug(%q) = %q, want %q", title, got, want)
		}
	}
}

func TestCheckReportsEachKindOfBrokenLink(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("other.md", "# Other\n\n## A part\n\n## A part\n")
	main := write("main.md", "# Main\n\n"+
		"[fine](other.md#a-part) [second of two](other.md#a-part-1) [here](#main) [web](https://example.com/x.md#nope)\n"+
		"[no file](missing.md)\n"+
		"[no anchor](other.md#no-part)\n"+
		"[no anchor here](#nowhere)\n"+
		"`[in code](missing.md)`\n"+
		"```\n[in a block](missing.md)\n```\n")
	broken, err := check([]string{main})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range broken {
		got = append(got, fmt.Sprintf("%d %s", b.Line, b.Target))
	}
	want := []string{"4 missing.md", "5 other.md#no-part", "6 #nowhere"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("broken = %v, want %v", got, want)
	}
}
