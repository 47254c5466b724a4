// Package config reads Rapport's config file: one YAML file whose ${VAR} and
// ${VAR:-default} references are expanded from the environment before parsing (so secrets
// stay out of the file and line numbers stay true), strictly decoded (an unknown key is an
// error), defaulted and validated. Every problem of the file is reported at once, each as
// file:line: message.
//
// Channel blocks are kept as YAML: BuildChannels hands each one to the channel type its
// `type` names (see package channels), which decodes its own fields with the same strictness.
//
// The shipped config/rapport.yaml is the default a newcomer runs with nothing installed;
// config/rapport.example.yaml shows a production setup.
package config
