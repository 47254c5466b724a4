// Package web serves Rapport's pages for people, under the API tokens: the preview of
// the journeys (/preview/: each journey as a timeline of trigger, waits, conditions and
// exits, and each step's message rendered for a sample customer in every locale) and the
// relationship figures (/stats/: NPS, retention cohorts, journeys' conversion and revenue,
// repeat rate, purchase frequency, LTV).
//
// Pages are server-rendered html/template files embedded in the binary, with no script
// and no build step. Every page fills the "content" block of one base template
// (pages/base.html), which holds the navigation; a new page is a file in pages/ that
// defines "title" and "content", a handler that calls Site.render, and a NavItem.
package web
