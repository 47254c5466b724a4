package api

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/signing"
)

// NPSSubmitted is the type of the event a feedback answer records.
const NPSSubmitted = "nps.submitted"

// Limits of a feedback form.
const (
	// MaxComment is the longest comment kept, in characters; longer ones are cut.
	MaxComment = 2000
	maxForm    = 16 << 10
)

// feedbackRoutes serves the public NPS page: GET /feedback/{token}?score=N shows the
// question with N chosen and a comment box, and records nothing, so link scanners that
// fetch every URL of an email answer nothing. POST records one nps.submitted event
// through the same intake as /v1/events, once per link.
func (s *server) feedbackRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /feedback/{token}", s.feedbackForm)
	mux.HandleFunc("POST /feedback/{token}", s.feedbackSubmit)
}

// feedbackLink verifies the request's token; on failure it has answered the page that
// says so (invalid: 400, expired: 410) and returns false.
func (s *server) feedbackLink(w http.ResponseWriter, r *http.Request) (signing.Link, bool) {
	link, err := s.Feedback(r.PathValue("token"))
	switch {
	case errors.Is(err, signing.ErrExpired):
		showFeedback(w, http.StatusGone, feedbackPage{T: textsFor(link.Locale), Expired: true})
		return link, false
	case err != nil:
		showFeedback(w, http.StatusBadRequest, feedbackPage{T: textsFor(""), Invalid: true})
		return link, false
	}
	return link, true
}

func (s *server) feedbackForm(w http.ResponseWriter, r *http.Request) {
	link, ok := s.feedbackLink(w, r)
	if !ok {
		return
	}
	score := -1
	if n, ok := parseScore(r.URL.Query().Get("score")); ok {
		score = n
	}
	showFeedback(w, http.StatusOK, feedbackPage{T: textsFor(link.Locale), Form: true, Score: score})
}

// feedbackSubmit records the answer. Its event id derives from the link alone
// (signing.Link.ID: the customer, the message and its send time), so a link records one
// answer: a double click, a reload or a second answer is a duplicate to the intake, and
// the customer sees the thank-you page while nothing more is recorded.
func (s *server) feedbackSubmit(w http.ResponseWriter, r *http.Request) {
	link, ok := s.feedbackLink(w, r)
	if !ok {
		return
	}
	t := textsFor(link.Locale)
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		showFeedback(w, http.StatusBadRequest, feedbackPage{T: t, Form: true, Score: -1, Error: t.BadForm})
		return
	}
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	score, ok := parseScore(r.PostForm.Get("score"))
	if !ok {
		showFeedback(w, http.StatusBadRequest, feedbackPage{T: t, Form: true, Score: -1, Comment: comment, Error: t.PickScore})
		return
	}
	if utf8.RuneCountInString(comment) > MaxComment {
		comment = string([]rune(comment)[:MaxComment])
	}
	ev := event.Event{ID: "nps-" + link.ID(), Type: NPSSubmitted, CustomerID: link.CustomerID,
		Data: map[string]any{"score": score, "comment": comment}}
	if _, err := s.Intake.Send(r.Context(), ev); err != nil {
		s.Logger.Error("feedback not recorded", "method", r.Method, "path", "/feedback/…", "err", err)
		w.Header().Set("Retry-After", "1")
		showFeedback(w, http.StatusServiceUnavailable, feedbackPage{T: t, Form: true, Score: score,
			Comment: comment, Error: t.TryAgain})
		return
	}
	showFeedback(w, http.StatusOK, feedbackPage{T: t, Thanks: true, Score: score})
}

// parseScore reads a whole number 0..10.
func parseScore(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 10 {
		return 0, false
	}
	return n, true
}

// feedbackTexts is the page in one language.
type feedbackTexts struct {
	Lang, Title, Question, Low, High, CommentLabel, Send, ThanksTitle, Thanks, ThanksLow,
	InvalidTitle, Invalid, ExpiredTitle, Expired, PickScore, BadForm, TryAgain string
}

var feedbackLanguages = map[string]feedbackTexts{
	"en": {
		Lang: "en", Title: "Your opinion", Question: "How likely are you to recommend us to a friend?",
		Low: "0 = not at all likely", High: "10 = extremely likely",
		CommentLabel: "What is the main reason for your score? (optional)", Send: "Send",
		ThanksTitle: "Thank you!", Thanks: "We have your answer. It helps us more than you think.",
		ThanksLow:    "We have your answer, and we are sorry we let you down. A real person will read it and get back to you.",
		InvalidTitle: "This link is not valid",
		Invalid:      "The link is damaged or incomplete, so nothing was recorded. Try the link from the newest message.",
		ExpiredTitle: "This survey has closed",
		Expired:      "We ask for answers within 90 days of sending the message, so nothing was recorded. Thank you for wanting to tell us.",
		PickScore:    "Please choose a score from 0 to 10.", BadForm: "The form could not be read. Please try again.",
		TryAgain: "We could not record your answer just now. Please press Send again in a minute.",
	},
	"ru": {
		Lang: "ru", Title: "Ваше мнение", Question: "Насколько вероятно, что вы порекомендуете нас другу?",
		Low: "0 — точно нет", High: "10 — обязательно",
		CommentLabel: "Почему именно такая оценка? (по желанию)", Send: "Отправить",
		ThanksTitle: "Спасибо!", Thanks: "Ваш ответ у нас. Он помогает нам больше, чем кажется.",
		ThanksLow:    "Ваш ответ у нас, и нам очень жаль, что мы вас огорчили. Его прочтёт живой человек и обязательно ответит вам.",
		InvalidTitle: "Ссылка недействительна",
		Invalid:      "Ссылка повреждена или неполная, поэтому ничего не записано. Попробуйте ссылку из последнего письма.",
		ExpiredTitle: "Опрос закрыт",
		Expired:      "Мы принимаем ответы в течение 90 дней после письма, поэтому ничего не записано. Спасибо, что хотели ответить.",
		PickScore:    "Пожалуйста, выберите оценку от 0 до 10.", BadForm: "Не удалось прочитать форму. Попробуйте ещё раз.",
		TryAgain: "Не получилось сохранить ответ. Пожалуйста, нажмите «Отправить» ещё раз через минуту.",
	},
}

// textsFor picks the page's language from a locale such as ru or ru-RU; English
// otherwise.
func textsFor(locale string) feedbackTexts {
	lang, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(locale, "_", "-")), "-")
	if t, ok := feedbackLanguages[lang]; ok {
		return t
	}
	return feedbackLanguages["en"]
}

type feedbackPage struct {
	T                              feedbackTexts
	Form, Thanks, Invalid, Expired bool
	Score                          int // -1: none chosen
	Comment, Error                 string
}

// Scores lists 0..10 for the page's buttons.
func (feedbackPage) Scores() []int { return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10} }

var feedbackTmpl = template.Must(template.New("feedback").Parse(`<!DOCTYPE html>
<html lang="{{ .T.Lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ if .Invalid }}{{ .T.InvalidTitle }}{{ else if .Expired }}{{ .T.ExpiredTitle }}{{ else if .Thanks }}{{ .T.ThanksTitle }}{{ else }}{{ .T.Title }}{{ end }}</title>
<style>
body{font-family:Georgia,serif;max-width:34rem;margin:0 auto;padding:2rem 1rem;color:#2b2b2b;line-height:1.5;background:#f6f3ee}
main{background:#fff;padding:1.5rem;border-radius:8px}
h1{font-size:1.4rem;margin-top:0}
fieldset{border:none;padding:0;margin:0 0 1rem}
legend{font-size:1.1rem;margin-bottom:.75rem}
.scores{display:flex;flex-wrap:wrap;gap:.4rem}
.scores label{flex:1 0 2.6rem}
.scores input{position:absolute;opacity:0}
.scores span{display:block;text-align:center;padding:.7rem 0;border:1px solid #c9c0b3;border-radius:6px;font-size:1.1rem;cursor:pointer}
.scores input:checked+span{background:#2b2b2b;color:#fff;border-color:#2b2b2b}
.scores input:focus-visible+span{outline:2px solid #7a5c2e}
.ends{display:flex;justify-content:space-between;font-size:.85rem;color:#6b6459;margin-top:.4rem}
textarea{width:100%;box-sizing:border-box;min-height:7rem;font:inherit;padding:.5rem;border:1px solid #c9c0b3;border-radius:6px}
button{margin-top:1rem;font:inherit;font-size:1.1rem;padding:.7rem 1.5rem;border:none;border-radius:6px;background:#7a5c2e;color:#fff;width:100%}
.error{color:#a32020}
</style></head>
<body><main>
{{- if .Invalid }}
<h1>{{ .T.InvalidTitle }}</h1>
<p>{{ .T.Invalid }}</p>
{{- else if .Expired }}
<h1>{{ .T.ExpiredTitle }}</h1>
<p>{{ .T.Expired }}</p>
{{- else if .Thanks }}
<h1>{{ .T.ThanksTitle }}</h1>
<p id="thanks">{{ if le .Score 6 }}{{ .T.ThanksLow }}{{ else }}{{ .T.Thanks }}{{ end }}</p>
{{- else }}
<h1>{{ .T.Title }}</h1>
{{ with .Error }}<p class="error" role="alert">{{ . }}</p>{{ end }}
<form method="post">
<fieldset><legend>{{ .T.Question }}</legend>
<div class="scores">
{{- $chosen := .Score }}
{{- range .Scores }}
<label><input type="radio" name="score" value="{{ . }}"{{ if eq . $chosen }} checked{{ end }}><span>{{ . }}</span></label>
{{- end }}
</div>
<div class="ends"><span>{{ .T.Low }}</span><span>{{ .T.High }}</span></div>
</fieldset>
<label for="comment">{{ .T.CommentLabel }}</label>
<textarea id="comment" name="comment" maxlength="2000">{{ .Comment }}</textarea>
<button type="submit">{{ .T.Send }}</button>
</form>
{{- end }}
</main></body></html>
`))

func showFeedback(w http.ResponseWriter, status int, p feedbackPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	h.Set("X-Robots-Tag", "noindex")
	w.WriteHeader(status)
	feedbackTmpl.Execute(w, p)
}
