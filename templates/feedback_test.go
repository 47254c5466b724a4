package templates

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
)

func TestTheNPSSurveyLinksEveryScoreToTheFeedbackPage(t *testing.T) {
	set, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, locale := range []string{"en", "ru"} {
		email, err := set.Render("nps-survey", channels.KindEmail, locale, sample(locale))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 10; n++ {
			if link := fmt.Sprintf(`href="https://rapport.example/feedback/FTOKEN?score=%d"`, n); !strings.Contains(email.HTML, link) {
				t.Errorf("%s: no link for score %d", locale, n)
			}
		}
		msg, err := set.Render("nps-survey", channels.KindMsg, locale, sample(locale))
		if err != nil || !strings.Contains(msg.Text, "https://rapport.example/feedback/FTOKEN") {
			t.Errorf("%s message: %q, %v", locale, msg.Text, err)
		}
	}
}

func TestTheTaskForSupportCarriesTheAnswer(t *testing.T) {
	set, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	nps := sample("en")
	nps.Event = map[string]any{"type": "nps.submitted", "customer_id": "c-42",
		"data": map[string]any{"score": 3.0, "comment": "It broke after a week."}}
	review := sample("ru")
	review.Event = map[string]any{"type": "review.submitted", "customer_id": "c-43",
		"data": map[string]any{"rating": 1.0, "text": "Сломалось через неделю."}}
	for _, c := range []struct {
		name string
		data Data
		want []string
	}{
		{"an NPS answer", nps, []string{"3 of 10", "It broke after a week.", "c-42", "anna@example.com"}},
		{"a review, in Russian", review, []string{"1 из 5", "Сломалось через неделю.", "c-43"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			loc, _ := c.data.Customer["locale"].(string)
			for _, kind := range []channels.Kind{channels.KindMsg, channels.KindEmail} {
				r, err := set.Render("detractor-task", kind, loc, c.data)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range c.want {
					if !strings.Contains(r.Subject+r.Text, w) {
						t.Errorf("%s: %q lacks %q", kind, r.Subject+r.Text, w)
					}
				}
			}
		})
	}
}
