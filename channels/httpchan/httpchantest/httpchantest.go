// Package httpchantest holds what the fake provider servers of Rapport's HTTP channels
// (telegramtest, whatsapptest) share: answers scripted per recipient, played in order
// before the recipient's messages are accepted again, or played on every request.
package httpchantest

import "sync"

// Script holds scripted answers of type R per recipient. Its zero value is empty and
// ready to use; it is safe for concurrent use.
type Script[R any] struct {
	mu     sync.Mutex
	queued map[string][]R
	always map[string]R
}

// Add makes the next requests for to get replies, in order.
func (s *Script[R]) Add(to string, replies ...R) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queued == nil {
		s.queued = map[string][]R{}
	}
	s.queued[to] = append(s.queued[to], replies...)
}

// Always makes every request for to get r, whatever is queued.
func (s *Script[R]) Always(to string, r R) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.always == nil {
		s.always = map[string]R{}
	}
	s.always[to] = r
}

// Next returns the answer scripted for a request for to, taking it off the queue, or
// false when the request should be accepted.
func (s *Script[R]) Next(to string) (R, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.always[to]; ok {
		return r, true
	}
	if q := s.queued[to]; len(q) > 0 {
		s.queued[to] = q[1:]
		return q[0], true
	}
	var zero R
	return zero, false
}
