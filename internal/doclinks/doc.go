// Package doclinks checks Rapport's own documentation. Its tests fail when a relative link
// or #anchor in README.md or docs/*.md leads nowhere, or when README.md grows past 12 KB
// (the rest belongs in docs/). It has no code of its own: the checks live in its tests, so
// that `go test ./...` and CI catch a broken link.
package doclinks
