// Package yamlx reads YAML the way Rapport's users need it read: every problem reported as
// `file:line: message`, all of them rather than the first, and unknown keys treated as the
// typos they usually are.
package yamlx

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem at one place in a file.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error reads "file:line: message", or "file: message" without a line.
func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Errors collects the problems of one or more files. Its zero value is ready to use.
type Errors []Error

// Error lists every problem, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Addf records a problem at node's line in file. A nil node records it at line 0.
func (es *Errors) Addf(file string, node *yaml.Node, format string, args ...any) {
	line := 0
	if node != nil {
		line = node.Line
	}
	*es = append(*es, Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Add appends err: an Errors or Error is merged as is, anything else is recorded against
// file without a line.
func (es *Errors) Add(file string, err error) {
	if err == nil {
		return
	}
	var many Errors
	var one Error
	switch {
	case errors.As(err, &many):
		*es = append(*es, many...)
	case errors.As(err, &one):
		*es = append(*es, one)
	default:
		*es = append(*es, Error{File: file, Msg: err.Error()})
	}
}

// Err returns nil when nothing was recorded, and the Errors otherwise.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

var lineRE = regexp.MustCompile(`(?s)^(?:yaml: )?line (\d+): (.*)$`) // (?s): a quoted value may span lines

// Parse reads one YAML document into a node tree. A syntax error comes back as Errors with
// the line yaml.v3 reported.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, convert(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Msg: "the file is empty"}}
	}
	return doc.Content[0], nil
}

// convert turns yaml.v3's errors ("yaml: line 3: ...", or a *yaml.TypeError listing
// several) into Errors.
func convert(file string, err error) error {
	var es Errors
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			n, _ := strconv.Atoi(sub[1])
			es = append(es, Error{File: file, Line: n, Msg: friendly(sub[2])})
			continue
		}
		es = append(es, Error{File: file, Msg: strings.TrimPrefix(m, "yaml: ")})
	}
	return es
}

var unmarshalRE = regexp.MustCompile("(?s)^cannot unmarshal !!(\\w+) `(.*)` into (.*)$")

func friendly(msg string) string {
	if sub := unmarshalRE.FindStringSubmatch(msg); sub != nil {
		return fmt.Sprintf("%q is not a valid %s", sub[2], goTypeName(sub[3]))
	}
	return msg
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "whole number"
	case strings.HasPrefix(t, "float"):
		return "number"
	case t == "bool":
		return "true/false value"
	case t == "string":
		return "string"
	case strings.HasPrefix(t, "[]"):
		return "list"
	case strings.HasPrefix(t, "map"), strings.Contains(t, "."):
		return "mapping"
	}
	return t
}

// Decode fills v from node the way yaml.v3 does, and also reports every key that v's
// struct types do not know (by their yaml tags), with its line. Field names in messages
// are the YAML keys.
func Decode(file string, node *yaml.Node, v any) error {
	var es Errors
	checkKeys(file, node, reflect.TypeOf(v), &es)
	if err := node.Decode(v); err != nil {
		es.Add(file, convert(file, err))
	}
	return es.Err()
}

// Unmarshaler types decide their own keys; checkKeys does not look inside them.
var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func checkKeys(file string, node *yaml.Node, t reflect.Type, es *Errors) {
	if node == nil || t == nil {
		return
	}
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return // node.Decode reports the type mismatch
		}
		fields := structFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				es.Addf(file, k, "unknown key %q (known: %s)", k.Value, knownKeys(fields))
				continue
			}
			checkKeys(file, val, ft, es)
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return
		}
		for i := 1; i < len(node.Content); i += 2 {
			checkKeys(file, node.Content[i], t.Elem(), es)
		}
	case reflect.Slice, reflect.Array:
		if node.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range node.Content {
			checkKeys(file, c, t.Elem(), es)
		}
	}
}

func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					fields[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func knownKeys(fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Field returns the value node of key in mapping node m, or nil when m is not a mapping
// or has no such key: the node to point a problem with that value at.
func Field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
