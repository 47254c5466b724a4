package redistest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Redis Sentinel watching one master, both owned by one test.
type Sentinel struct {
	// Master is the watched redis-server; MasterName its name for the Sentinel.
	Master     *Server
	MasterName string
	// Addr is the Sentinel's host:port.
	Addr string
}

// StartSentinel starts a redis-server and a Sentinel (`redis-server --sentinel`) that
// watches it as "mymaster", waits until the Sentinel names it, and stops both when the
// test ends.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	master := Start(tb)
	server, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed: %v", err)
	}
	s := &Sentinel{Master: master, MasterName: "mymaster"}
	dir := tb.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	for attempt := 0; attempt < 5 && s.Addr == ""; attempt++ {
		port := nodePort(tb)
		host, mport, err := net.SplitHostPort(master.Addr)
		if err != nil {
			tb.Fatal(err)
		}
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 1\n", port, dir, s.MasterName, host, mport)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(server, conf, "--sentinel")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start redis sentinel: %v", err)
		}
		n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
		if s.waitMaster(n.Addr, 5*time.Second) {
			tb.Cleanup(n.Kill)
			s.Addr = n.Addr
		} else {
			n.Kill()
		}
	}
	if s.Addr == "" {
		tb.Fatal("redis sentinel did not start")
	}
	return s
}

// waitMaster polls the Sentinel at addr until it reports the master's address.
func (s *Sentinel) waitMaster(addr string, d time.Duration) bool {
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer sc.Close()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		got, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		cancel()
		if err == nil && len(got) == 2 && got[0]+":"+got[1] == s.Master.Addr {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
