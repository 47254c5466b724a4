package email

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// TestSlowRecipientsDoNotStarveTheRest is the probe's case: a relay that takes 20 s to
// answer DATA for ten recipients, more than the pool of 8, while 200 other emails go
// through the same channel from 20 senders (the worker's concurrency). The 200 must not
// wait for the slow ones.
func TestSlowRecipientsDoNotStarveTheRest(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithDelayFor(func(rcpt string) time.Duration {
		if strings.HasPrefix(rcpt, "slow") {
			return 20 * time.Second
		}
		return 0
	}))
	s := newSMTP(t, srv, SMTPConfig{Pool: 8, Timeout: duration.Duration(30 * time.Second)})

	var slow sync.WaitGroup
	for i := range 10 {
		slow.Add(1)
		go func() {
			defer slow.Done()
			s.Send(context.Background(), message(fmt.Sprintf("slow%d@example.com", i)))
		}()
	}
	testutil.WaitFor(t, 5*time.Second, "the slow sends to hold their connections", func() bool { return srv.Connections() >= 8 })

	normal := make(chan string)
	var fast sync.WaitGroup
	for range 20 {
		fast.Add(1)
		go func() {
			defer fast.Done()
			for to := range normal {
				if _, err := s.Send(context.Background(), message(to)); err != nil {
					t.Errorf("%s: %v", to, err)
				}
			}
		}()
	}
	go func() {
		for i := range 200 {
			normal <- fmt.Sprintf("c%d@example.com", i)
		}
		close(normal)
	}()
	// The slow answers come after 20 s: all 200 arriving within 10 s means none of them
	// waited for a slow one.
	srv.WaitFor(t, 200, 10*time.Second)
	fast.Wait()
	if n := srv.Connections(); n > 16 {
		t.Errorf("%d connections, want at most twice the pool of 8", n)
	}
	srv.Close() // ends the slow answers
	slow.Wait()
}
