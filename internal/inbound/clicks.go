package inbound

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
)

// scannerWindow is how soon after a message was sent a click is taken for a link
// scanner's, which fetch every link of a new message, and not counted.
const scannerWindow = 2 * time.Second

// ClickURL returns the tracked link BASE_URL/c/TOKEN that stands for url in the
// message r names: the token is a signing.Click link carrying the message and url, so
// the redirect goes only to a URL Rapport put in that message, and no state is written
// to make it. Rapport's own links (under baseURL: unsubscribe, preferences, feedback)
// and anything that is not http(s) are returned as they are.
func (l *Listener) ClickURL(baseURL string) func(r store.Ref, url string) string {
	base := strings.TrimRight(baseURL, "/")
	return func(r store.Ref, url string) string {
		if strings.HasPrefix(url, base+"/") || !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) {
			return url
		}
		tok, err := l.cfg.Keys.Sign(signing.Link{Purpose: signing.Click, CustomerID: r.CustomerID, Channel: r.Channel,
			MessageID: r.MessageID, URL: url, Extra: r.Journey + "\n" + r.Step, IssuedAt: l.cfg.Now()})
		if err != nil {
			l.cfg.Logger.Warn("click tracking: link left untracked", "err", err)
			return url
		}
		return base + "/c/" + tok
	}
}

// Click serves GET and HEAD /c/{token}: a token that verifies is answered 302 to its
// URL, and the click recorded; anything else is 404 and records nothing. A HEAD request
// or a click within 2 seconds of the message's sending (a link scanner's) is
// redirected but not counted.
func (l *Listener) Click(w http.ResponseWriter, r *http.Request) {
	link, err := l.cfg.Keys.Verify(signing.Click, r.PathValue("token"), l.cfg.Now())
	if err != nil || !(strings.HasPrefix(link.URL, "https://") || strings.HasPrefix(link.URL, "http://")) {
		l.reject(link.Channel, "a click token that does not verify")
		http.NotFound(w, r)
		return
	}
	now := l.cfg.Now()
	scanner := r.Method == http.MethodHead || (!link.IssuedAt.IsZero() && now.Sub(link.IssuedAt) < scannerWindow)
	if !scanner && link.CustomerID != "" {
		if err := l.clicked(r, link, now); err != nil {
			l.cfg.Logger.Error("record click", "channel", link.Channel, "err", err)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, link.URL, http.StatusFound)
}

func (l *Listener) clicked(r *http.Request, link signing.Link, now time.Time) error {
	ctx := r.Context()
	first, err := l.cfg.Store.Click(ctx, link.CustomerID, link.MessageID, link.URL)
	if err != nil {
		return err
	}
	journey, step, _ := strings.Cut(link.Extra, "\n")
	data := map[string]any{"channel": link.Channel, "message_id": link.MessageID, "journey": journey, "step": step,
		"url": link.URL, "first": first}
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand)
	ev := event.Event{ID: "click-" + link.ID() + "-" + hex.EncodeToString(b), Type: TypeClicked, CustomerID: link.CustomerID,
		OccurredAt: now.UTC(), Data: data}
	if _, err := l.cfg.Intake.Send(ctx, ev); err != nil {
		return err
	}
	l.cfg.Count(link.Channel, KindClick)
	return nil
}
