package main

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryFunctionIsShort keeps cmd/rapport to flags, wiring and exit codes: a function
// of 60 lines or more belongs in a package of its own (internal/app wires the process).
func TestEveryFunctionIsShort(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n >= 60 {
					t.Errorf("%s: %s is %d lines; keep functions in cmd/rapport under 60", fset.Position(fd.Pos()), fd.Name.Name, n)
				}
			}
		}
	}
}
