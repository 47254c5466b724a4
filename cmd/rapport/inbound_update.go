package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/internal/app"
)

// inboundUpdate feeds a messenger update to a running Rapport, as the messenger would:
// rapport inbound CHANNEL TEXT --chat ID posts a Telegram update with that text from
// that private chat to BASE_URL/hooks/CHANNEL, with the channel's webhook_secret.
func inboundUpdate(c *cli, args []string) int {
	stdout, stderr := c.stdout, c.stderr
	fs := c.flagSet("rapport inbound")
	chat := fs.Int64("chat", 0, "the private chat the update comes from (required)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: rapport inbound CHANNEL TEXT --chat ID [--config FILE]\n\n"+
			"Posts a Telegram update to the running Rapport's /hooks/CHANNEL, e.g.\n"+
			"  rapport inbound telegram '/start TOKEN' --chat 42\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if len(pos) != 2 || *chat == 0 {
		fs.Usage()
		return 2
	}
	name, text := pos[0], pos[1]
	l, err := app.Load(c.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer l.Channels.Close()
	ch, ok := l.Channels.Get(name)
	tg, isTG := ch.Channel.(*telegram.Telegram)
	if !ok || !isTG {
		fmt.Fprintf(stderr, "rapport inbound: %s is not a telegram channel of %s\n", name, l.Config.File)
		return 1
	}
	if !tg.HasWebhookSecret() {
		fmt.Fprintf(stderr, "rapport inbound: channel %s has no webhook_secret, so its hook takes no update\n", name)
		return 1
	}
	update, err := json.Marshal(map[string]any{"update_id": time.Now().UnixMilli(), "message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": text,
		"chat": map[string]any{"id": *chat, "type": "private"}, "from": map[string]any{"id": *chat, "is_bot": false, "first_name": "Test"}}})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return postUpdate(strings.TrimRight(l.Config.HTTP.BaseURL, "/")+"/hooks/"+name, tg, update, stdout, stderr)
}

func postUpdate(url string, tg *telegram.Telegram, update []byte, stdout, stderr io.Writer) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(update))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, tg.WebhookSecret())
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "rapport inbound: is Rapport serving at %s? %v\n", url, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "rapport inbound: %s answered %s\n", url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s took the update\n", url)
	return 0
}
