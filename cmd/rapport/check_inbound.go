package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/rapporthq/rapport/config"
)

// checkInbound reports whether the inbound SMTP server answers at inbound.smtp.addr,
// and whether each bounces and replies domain has an MX record.
func checkInbound(ctx context.Context, cfg *config.Config, report func(part string, err error)) {
	if s := cfg.Inbound.SMTP; s != nil {
		report("inbound smtp "+s.Addr, smtpAnswers(ctx, s.Addr))
	}
	domains := map[string]bool{}
	for _, ch := range cfg.Channels {
		r := ch.Returns()
		for _, a := range []string{r.Bounces, r.Replies} {
			if _, d, ok := strings.Cut(a, "@"); ok {
				domains[d] = true
			}
		}
	}
	names := make([]string, 0, len(domains))
	for d := range domains {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		mx, err := net.DefaultResolver.LookupMX(mctx, d)
		cancel()
		switch {
		case err != nil:
			err = fmt.Errorf("no MX record found (%v): point the domain's MX at the inbound server", err)
		case len(mx) == 0:
			err = fmt.Errorf("no MX record: point the domain's MX at the inbound server")
		default:
			d += " (MX " + strings.TrimSuffix(mx[0].Host, ".") + ")"
		}
		report("return domain "+d, err)
	}
}

// smtpAnswers dials addr and reads an SMTP greeting.
func smtpAnswers(ctx context.Context, addr string) error {
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("not listening (is rapport serve running?): %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		return fmt.Errorf("something answers that is not an SMTP server: %q %v", strings.TrimSpace(line), err)
	}
	fmt.Fprint(conn, "QUIT\r\n")
	return nil
}
