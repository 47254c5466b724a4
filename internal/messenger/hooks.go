package messenger

import (
	"errors"
	"io"
	"net/http"

	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/whatsapp"
)

// MaxHookBody bounds a webhook request's body: an update or a notification is a few
// kilobytes; anything over this is refused with 413.
const MaxHookBody = 1 << 20

// Owns reports whether the channel name is one whose hooks the Listener serves: a
// Telegram or WhatsApp channel.
func (l *Listener) Owns(name string) bool {
	ch, ok := l.cfg.Channels().Get(name)
	if !ok {
		return false
	}
	switch ch.Channel.(type) {
	case *telegram.Telegram, *whatsapp.WhatsApp:
		return true
	}
	return false
}

// ServeHook serves /hooks/{channel} for a messenger channel: Telegram's webhook
// (POST, with the secret-token header), WhatsApp's subscription handshake (GET) and
// notifications (POST, signed). A request that fails the check is 401 and changes
// nothing; a body over MaxHookBody is 413; a failure to apply what it says is 500, so the
// provider delivers it again.
func (l *Listener) ServeHook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	ch, ok := l.cfg.Channels().Get(name)
	if !ok {
		http.Error(w, "no such hook", http.StatusNotFound)
		return
	}
	switch c := ch.Channel.(type) {
	case *telegram.Telegram:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if !c.CheckSecret(r) {
			l.reject(name, "a webhook request without the secret token")
			http.Error(w, "wrong or missing "+telegram.SecretHeader, http.StatusUnauthorized)
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		if err := l.HandleUpdate(r.Context(), name, body); err != nil {
			l.cfg.Logger.Error("telegram update not applied; Telegram will deliver it again", "channel", name, "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	case *whatsapp.WhatsApp:
		switch r.Method {
		case http.MethodGet:
			challenge, ok := c.Handshake(r.URL.Query())
			if !ok {
				http.Error(w, "wrong verify token", http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, challenge)
		case http.MethodPost:
			body, ok := readBody(w, r)
			if !ok {
				return
			}
			if !c.CheckSignature(body, r.Header.Get(whatsapp.SignatureHeader)) {
				l.reject(name, "a notification without a valid signature")
				http.Error(w, "wrong or missing "+whatsapp.SignatureHeader, http.StatusUnauthorized)
				return
			}
			if err := l.HandleNotification(r.Context(), name, body); err != nil {
				l.cfg.Logger.Error("whatsapp notification not applied; Meta will deliver it again", "channel", name, "err", err)
				http.Error(w, "try again", http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		}
	default:
		http.Error(w, "no such hook", http.StatusNotFound)
	}
}

// readBody reads at most MaxHookBody bytes, answering 413 past that.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "the body is too large", http.StatusRequestEntityTooLarge)
		return nil, false
	case err != nil:
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}
