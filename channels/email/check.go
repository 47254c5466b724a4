package email

import (
	"context"
	"fmt"
)

// Check connects to the SMTP server as a send would: EHLO, STARTTLS (or implicit TLS)
// as configured, and AUTH when a username is set. It sends no message and says goodbye
// with QUIT. It fails with the server's or the network's words when any step fails.
func (s *SMTP) Check(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("smtp check: %s", redact(err.Error()))
	}
	s.quit(c)
	return nil
}
