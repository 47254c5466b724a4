// Package app is Rapport as a running process: it loads the config and the files it
// names, connects to Redis, builds the engine, the worker and the HTTP server from small
// constructors, and gives them one lifecycle, Start and Shutdown, the way asynq's Server
// does. cmd/rapport parses flags, builds an App for the roles a command asks for, and turns
// what comes back into an exit code; `rapport bench` hangs the same Instruments on the
// engines it measures, so that it measures Rapport as it is served.
package app
