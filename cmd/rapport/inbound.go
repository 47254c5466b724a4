package main

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"os"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/app"
)

// inboundCmd is `rapport inbound FILE.eml`: it feeds one message to the inbound path,
// over SMTP to the running Rapport's inbound.smtp server, as a mailbox provider would.
// The recipient is --rcpt, or the first address of the message's To that is a VERP
// form of a channel's bounces or replies address; the sender is --from, or the null
// sender for a report (multipart/report) and the message's From for anything else.
func inboundCmd(c *cli, args []string) int {
	fs := c.flagSet("rapport inbound")
	rcpt := fs.String("rcpt", "", "the recipient, like replies+TOKEN@mail.shop.example (default: from To:)")
	from := fs.String("from", "", "the envelope sender (default: <> for a report, else From:)")
	var files []string
	for { // flags before and after the file
		if err := fs.Parse(args); err != nil {
			return parseStatus(err)
		}
		if fs.NArg() == 0 {
			break
		}
		files, args = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(c.stderr, "rapport inbound: want one FILE.eml\n\n%s", usage())
		return 2
	}
	if err := feed(c.config, files[0], *rcpt, *from); err != nil {
		fmt.Fprintf(c.stderr, "rapport inbound: %v\n", err)
		return 1
	}
	fmt.Fprintf(c.stdout, "delivered %s to the inbound server\n", files[0])
	return 0
}

// feed sends the message in file to the inbound server of the config at path.
func feed(path, file, rcpt, from string) error {
	l, err := app.Load(path)
	if err != nil {
		return err
	}
	defer l.Channels.Close()
	if l.Config.Inbound.SMTP == nil {
		return fmt.Errorf("%s has no inbound.smtp: set inbound: {smtp: {addr: \":2525\"}} and start rapport serve", l.Config.File)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if rcpt == "" {
		if rcpt = returnAddress(l.Config, msg.Header); rcpt == "" {
			return fmt.Errorf("%s: no To address is a channel's bounces+TOKEN or replies+TOKEN address; give --rcpt", file)
		}
	}
	if from == "" {
		if mt, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); mt != "multipart/report" {
			if a, err := mail.ParseAddress(msg.Header.Get("From")); err == nil {
				from = a.Address
			}
		}
	}
	addr := l.Config.Inbound.SMTP.Addr
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		return fmt.Errorf("no inbound server at %s (is rapport serve running?): %w", addr, err)
	}
	defer c.Close()
	var se *smtp.SMTPError
	if err := c.SendMail(from, []string{rcpt}, bytes.NewReader(data)); errors.As(err, &se) {
		return fmt.Errorf("the inbound server refused it: %d %s", se.Code, se.Message)
	} else if err != nil {
		return err
	}
	return c.Quit()
}

// returnAddress returns the first To or Cc address of h that is LOCAL+TOKEN@DOMAIN of a
// channel's bounces or replies address.
func returnAddress(cfg *config.Config, h mail.Header) string {
	var ours []string
	for _, ch := range cfg.Channels {
		r := ch.Returns()
		ours = append(ours, r.Bounces, r.Replies)
	}
	for _, key := range []string{"To", "Cc"} {
		list, err := h.AddressList(key)
		if err != nil {
			continue
		}
		for _, a := range list {
			local, domain, _ := strings.Cut(a.Address, "@")
			base, _, ok := strings.Cut(local, "+")
			for _, o := range ours {
				if ok && o != "" && strings.EqualFold(base+"@"+domain, o) {
					return a.Address
				}
			}
		}
	}
	return ""
}

// inboundAny is `rapport inbound`: a FILE.eml goes to the inbound SMTP server
// (inboundCmd), CHANNEL TEXT --chat ID to the messenger's webhook (inboundUpdate).
func inboundAny(c *cli, args []string) int {
	for _, a := range args {
		if strings.HasSuffix(strings.ToLower(a), ".eml") {
			return inboundCmd(c, args)
		}
	}
	return inboundUpdate(c, args)
}
