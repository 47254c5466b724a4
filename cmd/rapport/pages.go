package main

import (
	"net/http"

	"github.com/rapporthq/rapport/internal/web"
)

// withPages serves the pages for people (/preview/, /stats/) beside the API handler.
func withPages(apiHandler http.Handler, opts web.Options) http.Handler {
	mux := http.NewServeMux()
	pages := web.Handler(opts)
	mux.Handle("/preview/", pages)
	mux.Handle("/stats/", pages)
	mux.Handle("/", apiHandler)
	return mux
}
