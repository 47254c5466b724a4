package telegram_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
)

func TestReadUpdates(t *testing.T) {
	cases := []struct {
		name   string
		update string
		want   telegram.Action
	}{
		{"a start link's token links", telegramtest.StartUpdate(7, 42, "TOK_en-1"), telegram.Action{UpdateID: 7, Kind: telegram.KindStart, ChatID: "42", Token: "TOK_en-1"}},
		{"stop unsubscribes", telegramtest.TextUpdate(8, 42, "/stop"), telegram.Action{UpdateID: 8, Kind: telegram.KindStop, ChatID: "42"}},
		{"a command addressed to the bot by name counts", telegramtest.TextUpdate(9, 42, "/stop@shop_bot"), telegram.Action{UpdateID: 9, Kind: telegram.KindStop, ChatID: "42"}},
		{"other text is a reply", telegramtest.TextUpdate(10, 42, "where is my order?"), telegram.Action{UpdateID: 10, Kind: telegram.KindText, ChatID: "42", Text: "where is my order?"}},
		{"blocking the bot is kicked", telegramtest.KickedUpdate(11, 42), telegram.Action{UpdateID: 11, Kind: telegram.KindKicked, ChatID: "42"}},
		{"a group message is nothing", `{"update_id":12,"message":{"message_id":1,"chat":{"id":-100,"type":"group"},"date":1,"text":"/stop"}}`, telegram.Action{UpdateID: 12}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := telegram.DecodeUpdate([]byte(c.update))
			if err != nil {
				t.Fatal(err)
			}
			got := telegram.Read(u)
			got.Date, got.LanguageCode = 0, ""
			if got != c.want {
				t.Errorf("Read = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestDecodeUpdateRefusesWhatIsNotOne(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"message":{}}`, `{"update_id":"x"}`} {
		if _, err := telegram.DecodeUpdate([]byte(body)); err == nil {
			t.Errorf("DecodeUpdate(%q) succeeded", body)
		}
	}
}

func TestSecretIsCheckedAndTheBotAsked(t *testing.T) {
	srv := telegramtest.Start(t)
	tg, err := telegram.New(telegram.Config{Token: telegramtest.Token, APIURL: srv.URL, WebhookSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	for hdr, want := range map[string]bool{"s3cret": true, "s3cre": false, "": false, "s3cret2": false} {
		r := httptest.NewRequest("POST", "/hooks/telegram", nil)
		r.Header.Set(telegram.SecretHeader, hdr)
		if got := tg.CheckSecret(r); got != want {
			t.Errorf("CheckSecret(%q) = %v, want %v", hdr, got, want)
		}
	}
	name, err := tg.Username(context.Background())
	if err != nil || name != "shop_bot" {
		t.Fatalf("Username = %q, %v", name, err)
	}
	srv.SetWebhook("https://rapport.shop.example/hooks/telegram")
	info, err := tg.WebhookInfo(context.Background())
	if err != nil || info.URL != "https://rapport.shop.example/hooks/telegram" {
		t.Fatalf("WebhookInfo = %+v, %v", info, err)
	}
	srv.Push(telegramtest.TextUpdate(5, 42, "a"), telegramtest.TextUpdate(6, 42, "b"))
	ups, err := tg.GetUpdates(context.Background(), 0, 0)
	if err != nil || len(ups) != 2 || ups[0].ID != 5 {
		t.Fatalf("GetUpdates = %v, %v", ups, err)
	}
	ups, err = tg.GetUpdates(context.Background(), 6, 0)
	if err != nil || len(ups) != 1 || ups[0].ID != 6 {
		t.Fatalf("GetUpdates from 6 = %v, %v", ups, err)
	}
	if _, err := telegram.New(telegram.Config{Token: telegramtest.Token, Updates: "push"}); err == nil {
		t.Error("updates: push was accepted")
	}
}
