package config

import (
	"strings"

	"github.com/rapporthq/rapport/internal/yamlx"
)

// expansion is the result of expanding a file's variables.
type expansion struct {
	text string
	// unset lists, per 1-based line, the variables without a default that were unset or
	// empty, so that an empty required value can name its likely cause.
	unset map[int][]string
	errs  yamlx.Errors
}

// expand replaces ${VAR} with the variable's value ("" when unset), ${VAR:-default} with
// the value or, when unset or empty, the default, and $$ with a single $. Any other $ is
// kept. A reference must close on its own line, so line numbers do not move unless a value
// itself holds a newline; a malformed reference is an error at its line.
func expand(file, text string, lookup func(string) (string, bool)) expansion {
	x := expansion{unset: map[int][]string{}}
	var b strings.Builder
	line := 1
	for i := 0; i < len(text); i++ {
		ch := text[i]
		if ch == '\n' {
			line++
		}
		if ch != '$' || i+1 >= len(text) {
			b.WriteByte(ch)
			continue
		}
		switch text[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(ch)
			continue
		}
		end := strings.IndexAny(text[i+2:], "}\n")
		if end < 0 || text[i+2+end] != '}' {
			x.errs = append(x.errs, yamlx.Error{File: file, Line: line,
				Msg: "unclosed ${ (write ${VAR} or ${VAR:-default}, and $$ for a literal $)"})
			b.WriteByte(ch)
			continue
		}
		ref := text[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validName(name) {
			x.errs = append(x.errs, yamlx.Error{File: file, Line: line,
				Msg: "bad variable reference ${" + ref + "} (write ${VAR} or ${VAR:-default}, VAR of letters, digits and _)"})
		}
		v, ok := lookup(name)
		switch {
		case hasDef && (!ok || v == ""):
			v = def
		case !hasDef && v == "":
			x.unset[line] = append(x.unset[line], name)
		}
		b.WriteString(v)
		i += 2 + end
	}
	x.text = b.String()
	return x
}

func validName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
