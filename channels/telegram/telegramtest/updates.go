package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

type queued struct {
	id   int64
	body string
}

// Push queues updates (their JSON, as StartUpdate, TextUpdate and KickedUpdate build them) for getUpdates.
func (s *Server) Push(updates ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range updates {
		var id struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal([]byte(u), &id); err != nil {
			panic("telegramtest: Push: " + err.Error())
		}
		s.updates = append(s.updates, queued{id.UpdateID, u})
	}
	close(s.pushed)
	s.pushed = make(chan struct{})
}

// Pending counts the queued updates not yet confirmed by a getUpdates offset past them.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// Polls counts the getUpdates requests answered.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// SetWebhook sets the URL getWebhookInfo answers ("" for none).
func (s *Server) SetWebhook(url string) {
	s.mu.Lock()
	s.webhook = url
	s.mu.Unlock()
}

// getUpdates answers as the Bot API does: an offset confirms (and forgets) every update
// before it; the rest, up to limit, are returned, waiting up to timeout seconds for one.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		reply(w, Reply{400, `{"ok":false,"error_code":400,"description":"Bad Request: bad form"}`})
		return
	}
	offset, _ := strconv.ParseInt(r.Form.Get("offset"), 10, 64) // absent: 0, as the Bot API reads it
	wait, _ := strconv.Atoi(r.Form.Get("timeout"))
	limit, err := strconv.Atoi(r.Form.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 100
	}
	deadline := time.After(time.Duration(wait) * time.Second)
	for {
		s.mu.Lock()
		keep := s.updates[:0]
		for _, u := range s.updates {
			if u.id >= offset {
				keep = append(keep, u)
			}
		}
		s.updates = keep
		var out []json.RawMessage
		for _, u := range s.updates[:min(limit, len(s.updates))] {
			out = append(out, json.RawMessage(u.body))
		}
		pushed := s.pushed
		if len(out) > 0 || wait <= 0 {
			s.polls++
			s.mu.Unlock()
			b, err := json.Marshal(map[string]any{"ok": true, "result": append([]json.RawMessage{}, out...)})
			if err != nil {
				reply(w, Internal)
				return
			}
			reply(w, Reply{200, string(b)})
			return
		}
		s.mu.Unlock()
		select {
		case <-pushed:
		case <-deadline:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

// StartUpdate is the update of a customer pressing Start on a t.me/BOT?start=TOKEN link.
func StartUpdate(updateID, chatID int64, token string) string {
	return TextUpdate(updateID, chatID, "/start "+token)
}

// TextUpdate is the update of a message from the private chat chatID.
func TextUpdate(updateID, chatID int64, text string) string {
	t, err := json.Marshal(text)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Anna","language_code":"en"},"chat":{"id":%d,"first_name":"Anna","type":"private"},"date":%d,"text":%s}}`,
		updateID, updateID%100000+1, chatID, chatID, time.Now().Unix(), t)
}

// KickedUpdate is the update of the user of chatID blocking the bot.
func KickedUpdate(updateID, chatID int64) string {
	return fmt.Sprintf(`{"update_id":%d,"my_chat_member":{"chat":{"id":%d,"first_name":"Anna","type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"Anna"},"date":%d,"old_chat_member":{"user":{"id":123456,"is_bot":true,"first_name":"Shop","username":"shop_bot"},"status":"member"},"new_chat_member":{"user":{"id":123456,"is_bot":true,"first_name":"Shop","username":"shop_bot"},"status":"kicked","until_date":0}}}`,
		updateID, chatID, chatID, time.Now().Unix())
}

// PostUpdate posts update to a bot's webhook url as Telegram does, with secret in the
// X-Telegram-Bot-Api-Secret-Token header ("" sends none), and returns the status.
func PostUpdate(url, secret, update string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(update)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
