// Package mailparse reads what comes back to Rapport by email: delivery status
// notifications (RFC 3464), complaint feedback reports (RFC 5965) and customers' replies.
// It only reads; what a report means for a customer is decided by its callers.
//
// Parse takes one whole message as it was received and returns what it found in it:
// the per-recipient results of a DSN, the fields of a feedback report, the text a
// customer wrote above the quoted original, and whether the message was sent by a
// machine (an out-of-office answer, an auto-responder, a mailing list).
package mailparse

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// MaxText is the longest reply text Parse returns, in characters; a longer one is cut.
const MaxText = 4000

// Limits that keep a hostile message from costing more than a well-formed one.
const (
	maxDepth = 8   // nesting of multipart bodies
	maxParts = 100 // parts in the whole message
)

// ErrMalformed is returned (wrapped) for a message whose header cannot be read at all.
var ErrMalformed = errors.New("malformed message")

// Message is what Parse found in one received message.
type Message struct {
	// Header is the message's own header.
	Header mail.Header
	// Subject is the decoded Subject.
	Subject string
	// MessageID is the message's own Message-ID, without angle brackets.
	MessageID string
	// InReplyTo is the first message id of In-Reply-To, without angle brackets.
	InReplyTo string
	// Automatic is true for a message that a machine sent on its own: Auto-Submitted
	// other than "no", Precedence bulk, junk, list or auto_reply, a common auto-responder
	// header, or any report (DSN or feedback).
	Automatic bool
	// DSN is set for a multipart/report with report-type delivery-status.
	DSN *DSN
	// Feedback is set for a multipart/report with report-type feedback-report.
	Feedback *Feedback
	// Text is the text the sender wrote: the plain part, or else the HTML part as text,
	// without the quoted original where it can be told apart, at most MaxText
	// characters. It is empty for a message with no text.
	Text string
}

// DSN is a delivery status notification (RFC 3464).
type DSN struct {
	// ReportingMTA is the MTA that wrote the report, without its type ("dns;").
	ReportingMTA string
	// Recipients holds one entry per recipient the report is about.
	Recipients []Recipient
	// Original is the header of the message that could not be delivered, from the
	// report's message/rfc822 or text/rfc822-headers part; nil when it has none.
	Original mail.Header
}

// Recipient is the result for one recipient of a DSN.
type Recipient struct {
	// Original and Final are the Original-Recipient and Final-Recipient addresses,
	// without their type ("rfc822;").
	Original, Final string
	// Action is failed, delayed, delivered, relayed or expanded, in lower case.
	Action string
	// Status is the enhanced status code, like 5.1.1. When the Status field is missing
	// it is taken from the diagnostic, if one is there.
	Status string
	// Diagnostic is the Diagnostic-Code without its type ("smtp;").
	Diagnostic string
}

// Bounce kinds, as Recipient.Kind returns them.
const (
	Hard = "hard"
	Soft = "soft"
)

// Kind tells what the result means for the address: Hard for a permanent failure
// (status 5.x.x), Soft for a temporary one (4.x.x, a delay included), and "" for a
// delivery or a result that names no failure.
func (r Recipient) Kind() string {
	switch r.Action {
	case "delivered", "relayed", "expanded":
		return ""
	}
	switch {
	case strings.HasPrefix(r.Status, "5."):
		return Hard
	case strings.HasPrefix(r.Status, "4."):
		return Soft
	}
	if r.Action == "failed" {
		return Hard // a failure with no usable status: the MTA gave up
	}
	return ""
}

// Address is the recipient's address: Original-Recipient when given, else
// Final-Recipient.
func (r Recipient) Address() string {
	if r.Original != "" {
		return r.Original
	}
	return r.Final
}

// Feedback is a complaint feedback report (RFC 5965, ARF).
type Feedback struct {
	// Type is the Feedback-Type (abuse, fraud, virus, other, not-spam...), lower case.
	Type string
	// UserAgent is the reporting system.
	UserAgent string
	// OriginalMailFrom and OriginalRcptTo are the envelope of the reported message,
	// as the report gives them (providers often redact the recipient).
	OriginalMailFrom string
	OriginalRcptTo   []string
	// ReportedDomain and SourceIP are copied as given.
	ReportedDomain, SourceIP string
	// Original is the header of the reported message; nil when the report has none.
	Original mail.Header
}

// Parse reads one message. It returns an error only when the header cannot be read;
// a body it does not understand gives a Message with no report and no text.
func Parse(r io.Reader) (*Message, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m := &Message{
		Header:    msg.Header,
		Subject:   decodeHeader(msg.Header.Get("Subject")),
		MessageID: firstID(msg.Header.Get("Message-Id")),
		InReplyTo: firstID(msg.Header.Get("In-Reply-To")),
		Automatic: Automatic(msg.Header),
	}
	w := &walker{m: m}
	w.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	if m.DSN != nil || m.Feedback != nil {
		m.Automatic = true
	}
	if m.Automatic && (m.DSN != nil || m.Feedback != nil) {
		return m, nil // a report has no reply text to look for
	}
	text := w.plain
	if strings.TrimSpace(text) == "" && w.html != "" {
		text = stripQuote(htmlToText(cutHTMLQuote(w.html)))
	} else {
		text = stripQuote(text)
	}
	m.Text = truncate(strings.TrimSpace(text), MaxText)
	return m, nil
}

// Automatic reports whether a header marks its message as sent by a machine:
// Auto-Submitted other than "no" (RFC 3834), Precedence (or X-Precedence) bulk, junk,
// list or auto_reply, or one of the auto-responder headers that common mail systems
// add (X-Autoreply, X-Autorespond, X-Autoresponder, X-AutoReply-From,
// X-Mail-Autoreply, X-POST-MessageClass 9).
func Automatic(h mail.Header) bool {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" {
		if v, _, _ := strings.Cut(v, ";"); strings.TrimSpace(v) != "no" {
			return true
		}
	}
	for _, k := range []string{"Precedence", "X-Precedence"} {
		switch strings.ToLower(strings.TrimSpace(h.Get(k))) {
		case "bulk", "junk", "list", "auto_reply", "auto-reply":
			return true
		}
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autoreply-From", "X-Mail-Autoreply"} {
		if _, ok := h[textproto.CanonicalMIMEHeaderKey(k)]; ok {
			return true
		}
	}
	return strings.HasPrefix(strings.TrimSpace(h.Get("X-Post-Messageclass")), "9")
}

// walker goes through a message's MIME tree once, keeping the first plain and HTML
// text parts outside attachments and reports, and the report parts themselves.
type walker struct {
	m           *Message
	plain, html string
	parts       int
}

func (w *walker) walk(h textproto.MIMEHeader, body io.Reader, depth int) {
	w.parts++
	if depth > maxDepth || w.parts > maxParts {
		return
	}
	mediatype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediatype == "" {
		mediatype, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mediatype, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return
		}
		if mediatype == "multipart/report" {
			w.report(strings.ToLower(params["report-type"]), multipart.NewReader(body, boundary), depth)
			return
		}
		mr := multipart.NewReader(body, boundary)
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.walk(p.Header, p, depth+1)
		}
	}
	if disp, _, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && disp == "attachment" {
		return
	}
	switch mediatype {
	case "text/plain":
		if w.plain == "" {
			w.plain = readText(h, body, params["charset"])
		}
	case "text/html":
		if w.html == "" {
			w.html = readText(h, body, params["charset"])
		}
	}
}

// report reads the parts of a multipart/report: the human-readable first part gives
// the message's text; the machine-readable second part and the original message's
// header are kept by report type.
func (w *walker) report(kind string, mr *multipart.Reader, depth int) {
	var fields []textproto.MIMEHeader
	var original mail.Header
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		w.parts++
		if w.parts > maxParts {
			break
		}
		mediatype, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			mediatype = "text/plain"
		}
		switch mediatype {
		case "message/delivery-status", "message/global-delivery-status", "message/feedback-report":
			if fields == nil {
				fields = readFieldGroups(decodeBody(p.Header, p))
			}
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			if original == nil {
				original = readHeader(decodeBody(p.Header, p))
			}
		default:
			if i == 0 {
				w.walk(p.Header, p, depth+1)
			}
		}
	}
	switch kind {
	case "delivery-status":
		w.m.DSN = dsnFrom(fields, original)
	case "feedback-report":
		w.m.Feedback = feedbackFrom(fields, original)
	}
}

func dsnFrom(groups []textproto.MIMEHeader, original mail.Header) *DSN {
	d := &DSN{Original: original}
	for i, g := range groups {
		if i == 0 && g.Get("Final-Recipient") == "" && g.Get("Original-Recipient") == "" {
			d.ReportingMTA = typed(g.Get("Reporting-Mta"))
			continue
		}
		r := Recipient{
			Original:   address(g.Get("Original-Recipient")),
			Final:      address(g.Get("Final-Recipient")),
			Action:     strings.ToLower(strings.TrimSpace(g.Get("Action"))),
			Diagnostic: typed(g.Get("Diagnostic-Code")),
		}
		if r.Original == "" && r.Final == "" {
			continue
		}
		r.Status = statusCode.FindString(g.Get("Status"))
		if r.Status == "" {
			r.Status = statusCode.FindString(r.Diagnostic)
		}
		d.Recipients = append(d.Recipients, r)
	}
	return d
}

func feedbackFrom(groups []textproto.MIMEHeader, original mail.Header) *Feedback {
	f := &Feedback{Original: original}
	if len(groups) == 0 {
		return f
	}
	g := groups[0]
	f.Type = strings.ToLower(strings.TrimSpace(g.Get("Feedback-Type")))
	f.UserAgent = strings.TrimSpace(g.Get("User-Agent"))
	f.OriginalMailFrom = address(g.Get("Original-Mail-From"))
	for _, v := range g.Values("Original-Rcpt-To") {
		if a := address(v); a != "" {
			f.OriginalRcptTo = append(f.OriginalRcptTo, a)
		}
	}
	f.ReportedDomain = strings.TrimSpace(g.Get("Reported-Domain"))
	f.SourceIP = strings.TrimSpace(g.Get("Source-Ip"))
	return f
}

// statusCode finds an enhanced status code (RFC 3463) in a field or a diagnostic.
var statusCode = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// readFieldGroups reads the header-like groups of a delivery-status or feedback-report
// body, separated by blank lines.
func readFieldGroups(r io.Reader) []textproto.MIMEHeader {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil && len(b) == 0 {
		return nil
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	var groups []textproto.MIMEHeader
	for _, block := range bytes.Split(b, []byte("\n\n")) {
		block = bytes.Trim(block, "\n")
		if len(block) == 0 {
			continue
		}
		tr := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(block), strings.NewReader("\n\n"))))
		h, err := tr.ReadMIMEHeader()
		if len(h) == 0 && err != nil {
			continue
		}
		groups = append(groups, h)
	}
	return groups
}

// readHeader reads the header of an embedded message; the body is not needed.
func readHeader(r io.Reader) mail.Header {
	tr := textproto.NewReader(bufio.NewReader(io.LimitReader(r, 1<<20)))
	h, err := tr.ReadMIMEHeader()
	if len(h) == 0 && err != nil {
		return nil
	}
	return mail.Header(h)
}

// decodeBody undoes a part's Content-Transfer-Encoding.
func decodeBody(h textproto.MIMEHeader, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Cleaner drops the line breaks and spaces that wrap a base64 body, which
// encoding/base64 would otherwise refuse midway.
type base64Cleaner struct{ r io.Reader }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// readText reads a text part, decoded to UTF-8; a part that cannot be read to the end
// gives what was read.
func readText(h textproto.MIMEHeader, r io.Reader, charset string) string {
	b, err := io.ReadAll(io.LimitReader(decodeBody(h, r), 4<<20))
	if err != nil && len(b) == 0 {
		return ""
	}
	return toUTF8(b, charset)
}

func toUTF8(b []byte, charset string) string {
	charset = strings.ToLower(strings.TrimSpace(charset))
	if charset != "" && charset != "utf-8" && charset != "us-ascii" && charset != "utf8" {
		if enc, err := htmlindex.Get(charset); err == nil {
			if out, err := enc.NewDecoder().Bytes(b); err == nil {
				return string(out)
			}
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

var headerDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}}

func decodeHeader(v string) string {
	if d, err := headerDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// firstID returns the first <message-id> of a field, without its brackets.
func firstID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// typed drops the "type;" prefix of a DSN field (rfc822; smtp; dns;).
func typed(v string) string {
	v = strings.TrimSpace(v)
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, " <@") {
		return strings.TrimSpace(rest)
	}
	return v
}

// address returns the bare address of a typed address field.
func address(v string) string {
	v = typed(v)
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return strings.Trim(v, "<> ")
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}
