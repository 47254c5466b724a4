package mailparse

import (
	"html"
	"regexp"
	"strings"
)

// The quoted original of a reply is told apart by the marks that common mail programs
// put before it. Everything from the first such mark on is dropped, and so are the
// lines quoted with ">".

// quoteIntro matches the line that introduces a quote: Gmail and Apple Mail's
// "On ... wrote:", Thunderbird's, and their translations in the languages Rapport ships.
var quoteIntro = regexp.MustCompile(`(?im)^[ \t>]*(on\b[^\n]{0,300}\n?[^\n]{0,300}\bwrote:|le\b[^\n]{0,300}\n?[^\n]{0,300}\ba écrit\s*:|am\b[^\n]{0,300}\bschrieb\b[^\n]{0,300}:|el\b[^\n]{0,300}\bescribió:|il\b[^\n]{0,300}\bha scritto:|op\b[^\n]{0,300}\bschreef\b[^\n]{0,300}:|[^\n]{0,300}\sпишет:|[^\n]{0,300}\sнаписала?:)[ \t]*$`)

// quoteRule matches a line that begins a forwarded or quoted original in Outlook,
// Yahoo and others.
var quoteRule = regexp.MustCompile(`(?im)^[ \t]*(-{2,}\s*original message\s*-{2,}|-{2,}\s*forwarded message\s*-{2,}|_{20,}|from:\s.+\n\s*(sent|date):\s.+)[ \t]*$`)

// quoteWords are in every line quoteIntro and quoteRule match, so only the lines (and
// the line before them, for an intro wrapped over two) that hold one are matched.
var quoteWords = []string{"wrote:", "écrit", "schrieb", "escribió:", "scritto:", "schreef", "пишет:", "написал",
	"original message", "forwarded message", "____", "sent:", "date:"}

// stripQuote returns the text above the quoted original.
func stripQuote(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	cut := len(s)
	start := 0 // of the line before the current one
	for off := 0; off < len(s); {
		end := strings.IndexByte(s[off:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += off
		}
		if hasQuoteWord(s[off:end]) {
			for _, re := range []*regexp.Regexp{quoteIntro, quoteRule} {
				if loc := re.FindStringIndex(s[start:min(end+1, len(s))]); loc != nil && start+loc[0] < cut {
					cut = start + loc[0]
				}
			}
			if cut < len(s) {
				break
			}
		}
		start, off = off, end+1
	}
	s = s[:cut]
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), ">") {
			continue
		}
		b.WriteString(strings.TrimRight(line, " \t"))
		b.WriteByte('\n')
	}
	return collapseBlank(b.String())
}

// htmlQuoteMarks are the elements in which mail programs put the quoted original.
var htmlQuoteMarks = regexp.MustCompile(`(?i)<(blockquote\b|div[^>]*class="[^"]*(gmail_quote|yahoo_quoted|moz-cite-prefix)|div[^>]*id="(divRplyFwdMsg|appendonsend)"|hr[^>]*id="stopSpelling")`)

// cutHTMLQuote drops the HTML from the first quoted-original element on.
func cutHTMLQuote(s string) string {
	if loc := htmlQuoteMarks.FindStringIndex(s); loc != nil {
		return s[:loc[0]]
	}
	return s
}

var (
	htmlDrop  = regexp.MustCompile(`(?is)<(script|style|head|title)\b.*?</(script|style|head|title)\s*>|<!--.*?-->`)
	htmlBreak = regexp.MustCompile(`(?i)<(br|/p|/div|/li|/tr|/h[1-6]|p|div|li|tr|h[1-6])\b[^>]*>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	spaces    = regexp.MustCompile(`[ \t\x{a0}]+`)
)

// htmlToText turns an HTML body into its text: block elements become line breaks,
// other tags go, entities are decoded.
func htmlToText(s string) string {
	s = htmlDrop.ReplaceAllString(s, "")
	s = strings.NewReplacer("\r", "", "\n", " ").Replace(s)
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(spaces.ReplaceAllString(l, " "))
	}
	return collapseBlank(strings.Join(lines, "\n"))
}

// collapseBlank leaves at most one blank line between paragraphs.
func collapseBlank(s string) string {
	var b strings.Builder
	blank := 0
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.TrimSpace(line) == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

func hasQuoteWord(line string) bool {
	l := strings.ToLower(line)
	for _, w := range quoteWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}
