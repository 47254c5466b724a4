package main

import (
	"net/http"

	"github.com/rapporthq/rapport/internal/web"
)

// withPages serves the pages for people (/preview/) beside the API handler.
func withPages(apiHandler http.Handler, opts web.Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/preview/", web.Handler(opts))
	mux.Handle("/", apiHandler)
	return mux
}
