// Package telegramtest is a local stand-in for the Telegram Bot API, for tests: an
// httptest server that answers sendMessage and getMe with the status codes and JSON
// bodies the real API gives, records every message it accepts, and plays scripted
// refusals (429 with retry_after, 403 blocked, 400 chat not found, 5xx) per chat.
//
// It has the inbound side too: updates queued with Push are served by getUpdates (long
// polling, confirmed by offset, as the real API does), SetWebhook sets what
// getWebhookInfo answers, and PostUpdate posts an update to a webhook as Telegram does.
// StartUpdate, TextUpdate and KickedUpdate build the updates a customer's actions cause.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/httpchan/httpchantest"
)

// Token is the bot token the server accepts; any other is answered 401 Unauthorized.
const Token = "123456:TEST-token_abc"

// Message is one message the server accepted.
type Message struct {
	ChatID    string
	Text      string
	MessageID int64
	At        time.Time
}

// Request is one sendMessage request the server answered, accepted or not.
type Request struct {
	ChatID string
	At     time.Time
	Status int
}

// Reply is a scripted answer: an HTTP status and the JSON body the Bot API sends with it.
type Reply struct {
	Status int
	Body   string
}

// The Bot API's refusals, word for word.
var (
	Blocked      = Reply{403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`}
	Deactivated  = Reply{403, `{"ok":false,"error_code":403,"description":"Forbidden: user is deactivated"}`}
	ChatNotFound = Reply{400, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`}
	TooLong      = Reply{400, `{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}`}
	BadGateway   = Reply{502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"}
	Internal     = Reply{500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`}
)

// TooManyRequests is the 429 the Bot API sends when a bot sends too fast.
func TooManyRequests(retryAfter int) Reply {
	return Reply{429, fmt.Sprintf(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after %d","parameters":{"retry_after":%d}}`, retryAfter, retryAfter)}
}

// Server is a fake Bot API. Its zero value is not usable; call Start.
type Server struct {
	*httptest.Server

	script httpchantest.Script[Reply] // per chat id

	mu       sync.Mutex
	msgs     []Message
	next     int64
	requests []Request
	updates  []queued
	pushed   chan struct{} // closed and replaced on each Push
	webhook  string
	polls    int
}

// Start runs a fake Bot API until the test ends. Its URL is the channel's api_url.
func Start(tb testing.TB) *Server {
	s := &Server{next: 1000, pushed: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Script makes the next requests for chatID get the replies, in order; after them the
// chat's messages are accepted again.
func (s *Server) Script(chatID string, replies ...Reply) { s.script.Add(chatID, replies...) }

// Always makes every request for chatID get r (Blocked, say).
func (s *Server) Always(chatID string, r Reply) { s.script.Always(chatID, r) }

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Requests counts the sendMessage requests answered, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Log returns the sendMessage requests answered, in order, with their time and status.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func reply(w http.ResponseWriter, r Reply) {
	w.Header().Set("Content-Type", "application/json")
	if strings.HasPrefix(r.Body, "<") {
		w.Header().Set("Content-Type", "text/html")
	}
	w.WriteHeader(r.Status)
	fmt.Fprint(w, r.Body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok || !strings.HasPrefix(r.URL.Path, "/bot") {
		reply(w, Reply{404, `{"ok":false,"error_code":404,"description":"Not Found"}`})
		return
	}
	if token != Token {
		reply(w, Reply{401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`})
		return
	}
	switch method {
	case "getMe":
		reply(w, Reply{200, `{"ok":true,"result":{"id":123456,"is_bot":true,"first_name":"Shop","username":"shop_bot","can_join_groups":true,"can_read_all_group_messages":false,"supports_inline_queries":false}}`})
	case "sendMessage":
		s.sendMessage(w, r)
	case "getUpdates":
		s.getUpdates(w, r)
	case "getWebhookInfo":
		s.mu.Lock()
		u := s.webhook
		s.mu.Unlock()
		b, err := json.Marshal(map[string]any{"ok": true, "result": map[string]any{"url": u, "has_custom_certificate": false, "pending_update_count": 0}})
		if err != nil {
			reply(w, Internal)
			return
		}
		reply(w, Reply{200, string(b)})
	default:
		reply(w, Reply{404, `{"ok":false,"error_code":404,"description":"Not Found: method not found"}`})
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ChatID    json.RawMessage `json:"chat_id"`
		Text      string          `json:"text"`
		ParseMode string          `json:"parse_mode"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.ChatID) == 0 {
		reply(w, Reply{400, `{"ok":false,"error_code":400,"description":"Bad Request: chat_id is empty"}`})
		return
	}
	if req.Text == "" {
		reply(w, Reply{400, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`})
		return
	}
	chat := strings.Trim(string(req.ChatID), `"`)
	now := time.Now()
	if rep, ok := s.script.Next(chat); ok {
		s.mu.Lock()
		s.requests = append(s.requests, Request{chat, now, rep.Status})
		s.mu.Unlock()
		reply(w, rep)
		return
	}
	s.mu.Lock()
	s.next++
	m := Message{ChatID: chat, Text: req.Text, MessageID: s.next, At: now}
	s.msgs = append(s.msgs, m)
	s.requests = append(s.requests, Request{chat, now, http.StatusOK})
	s.mu.Unlock()
	text, err := json.Marshal(m.Text)
	if err != nil {
		reply(w, Internal)
		return
	}
	reply(w, Reply{200, fmt.Sprintf(`{"ok":true,"result":{"message_id":%d,"from":{"id":123456,"is_bot":true,"first_name":"Shop","username":"shop_bot"},"chat":{"id":%s,"first_name":"Anna","type":"private"},"date":%d,"text":%s}}`,
		m.MessageID, req.ChatID, m.At.Unix(), text)})
}
