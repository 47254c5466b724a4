// Package redistest starts real, private Redis servers for a test: on free ports, with
// nothing on disk, stopped when the test ends. Start gives one redis-server,
// StartCluster a Redis Cluster of three masters, StartSentinel a master watched by a
// Sentinel. Tests never touch the shared server on 6379.
package redistest
