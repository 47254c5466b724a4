package api

import (
	"context"
	"html/template"
	"net/http"
	"strings"

	"github.com/rapporthq/rapport/internal/engine"
)

// PreferenceCentre is what the preference page needs of the engine; *engine.Engine is
// one.
type PreferenceCentre interface {
	Preferences(ctx context.Context, id string) (engine.Preferences, error)
	SavePreferences(ctx context.Context, id string, topics, channels map[string]bool) error
}

func (s *server) preferenceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /preferences/{token}", s.preferences)
	mux.HandleFunc("POST /preferences/{token}", s.preferences)
}

// preferences serves the signed preference page: GET lists every topic and every
// channel the customer has an address on, each with its state, in the customer's locale;
// POST sets each of them to whether its box was ticked. The token is verified before
// anything is read or changed: a forged one changes nothing.
func (s *server) preferences(w http.ResponseWriter, r *http.Request) {
	link, err := s.Preferences(r.PathValue("token"))
	if err != nil {
		showPreferences(w, http.StatusBadRequest, prefPage{T: prefTexts(""), Invalid: true})
		return
	}
	cid := link.CustomerID
	saved := false
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			showPreferences(w, http.StatusBadRequest, prefPage{T: prefTexts(""), Invalid: true})
			return
		}
		now, err := s.PreferenceCentre.Preferences(r.Context(), cid)
		if err != nil {
			s.preferencesFailed(w, err)
			return
		}
		ticked := func(key string, choices []engine.Choice) map[string]bool {
			on := map[string]bool{}
			for _, v := range r.PostForm[key] {
				on[v] = true
			}
			out := map[string]bool{}
			for _, c := range choices {
				out[c.ID] = on[c.ID]
			}
			return out
		}
		if err := s.PreferenceCentre.SavePreferences(r.Context(), cid, ticked("topic", now.Topics), ticked("channel", now.Channels)); err != nil {
			s.preferencesFailed(w, err)
			return
		}
		saved = true
	}
	p, err := s.PreferenceCentre.Preferences(r.Context(), cid)
	if err != nil {
		s.preferencesFailed(w, err)
		return
	}
	showPreferences(w, http.StatusOK, prefPage{T: prefTexts(p.Locale), P: p, Saved: saved})
}

func (s *server) preferencesFailed(w http.ResponseWriter, err error) {
	s.Logger.Error("preference page failed", "err", err)
	w.Header().Set("Retry-After", "1")
	showPreferences(w, http.StatusServiceUnavailable, prefPage{T: prefTexts(""), Failed: true})
}

type prefPage struct {
	T                      prefText
	P                      engine.Preferences
	Saved, Invalid, Failed bool
}

type prefText struct {
	Lang, Title, Intro, Topics, Channels, Save, Saved, Invalid, Failed string
}

func prefTexts(locale string) prefText {
	if strings.HasPrefix(locale, "ru") {
		return prefText{Lang: "ru", Title: "Ваши подписки", Intro: "Отметьте, о чём и куда вам писать. Снимите галочку — и мы перестанем.",
			Topics: "О чём писать", Channels: "Куда писать", Save: "Сохранить", Saved: "Сохранено. Спасибо!",
			Invalid: "Ссылка повреждена или неполна, поэтому ничего не изменено. Откройте ссылку из последнего письма.",
			Failed:  "Не получилось сохранить. Попробуйте через минуту."}
	}
	return prefText{Lang: "en", Title: "Your preferences", Intro: "Tick what you would like to hear about, and where. Untick it and we stop.",
		Topics: "What about", Channels: "Where", Save: "Save", Saved: "Saved. Thank you!",
		Invalid: "This link is damaged or incomplete, so nothing was changed. Try the link from the newest message.",
		Failed:  "We could not save your choice just now. Please try again in a minute."}
}

var prefTemplate = template.Must(template.New("prefs").Parse(`<!DOCTYPE html>
<html lang="{{ .T.Lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .T.Title }}</title></head>
<body style="font-family:Georgia,serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#2b2b2b;line-height:1.6">
<h1 style="font-size:1.4rem">{{ .T.Title }}</h1>
{{- if .Invalid }}<p>{{ .T.Invalid }}</p>
{{- else if .Failed }}<p>{{ .T.Failed }}</p>
{{- else }}
{{- if .Saved }}<p role="status"><strong>{{ .T.Saved }}</strong></p>{{ end }}
<p>{{ .T.Intro }}</p>
<form method="post">
<h2 style="font-size:1.1rem">{{ .T.Topics }}</h2>
{{- range .P.Topics }}
<p><label><input type="checkbox" name="topic" value="{{ .ID }}"{{ if .Subscribed }} checked{{ end }}> {{ .Title }}</label></p>
{{- end }}
{{- if .P.Channels }}
<h2 style="font-size:1.1rem">{{ .T.Channels }}</h2>
{{- range .P.Channels }}
<p><label><input type="checkbox" name="channel" value="{{ .ID }}"{{ if .Subscribed }} checked{{ end }}> {{ .Title }}</label></p>
{{- end }}
{{- end }}
<button type="submit" style="font-size:1rem;padding:.5rem 1rem">{{ .T.Save }}</button>
</form>
{{- end }}
</body></html>
`))

func showPreferences(w http.ResponseWriter, status int, p prefPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	prefTemplate.Execute(w, p)
}
