package redistest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/testutil"
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
	s := &Sentinel{Master: master, MasterName: "mymaster"}
	s.Addr = startSentinel(tb, master, s.MasterName, "", func(addr string) bool { return s.waitMaster(addr, 5*time.Second) })
	return s
}

// startSentinel starts a Sentinel watching master as name, with extra config lines, on a
// free port, and returns its address once ready says it is; it stops it when the test
// ends.
func startSentinel(tb testing.TB, master *Server, name, extra string, ready func(addr string) bool) string {
	tb.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed: %v", err)
	}
	host, mport, err := net.SplitHostPort(master.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	for attempt := 0; attempt < 5; attempt++ {
		port := nodePort(tb)
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 1\n%s", port, dir, name, host, mport, extra)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(server, conf, "--sentinel")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start redis sentinel: %v", err)
		}
		n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
		if ready(n.Addr) {
			tb.Cleanup(n.Kill)
			return n.Addr
		}
		n.Kill() // lost the port race, or never ready: try again
	}
	tb.Fatal("redis sentinel did not start")
	return ""
}

// waitMaster polls the Sentinel at addr until it reports the master's address.
func (s *Sentinel) waitMaster(addr string, d time.Duration) bool {
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer sc.Close()
	return testutil.Poll(d, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		got, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		return err == nil && len(got) == 2 && got[0]+":"+got[1] == s.Master.Addr
	})
}

// ReplicaOf makes the server a replica of master.
func ReplicaOf(master *Server) Option {
	i := strings.LastIndexByte(master.Addr, ':') // a Server's Addr is always host:port
	host, port := master.Addr[:i], master.Addr[i+1:]
	return func(args []string) []string { return append(args, "--replicaof", host, port) }
}

// Failover is a master, its replica and a Sentinel that fails the master over to the
// replica, all owned by one test.
type Failover struct {
	Master, Replica *Server
	MasterName      string
	// Addr is the Sentinel's host:port.
	Addr string
}

// StartReplicated starts a master and its replica (each with opts) and waits until the
// replica is in sync.
func StartReplicated(tb testing.TB, opts ...Option) (master, replica *Server) {
	tb.Helper()
	// The master sends the replica its first copy at once, not after the default 5 s
	// wait for more replicas.
	noDelay := func(args []string) []string { return append(args, "--repl-diskless-sync-delay", "0") }
	master = Start(tb, append(slices.Clip(opts), noDelay)...)
	replica = Start(tb, append(slices.Clip(opts), ReplicaOf(master))...)
	rc := replica.Client(tb)
	if !testutil.Poll(10*time.Second, func() bool {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}) {
		tb.Fatal("the replica did not sync with the master")
	}
	return master, replica
}

// StartFailover starts a master and its replica (each with opts), then a Sentinel
// watching the master as "mymaster" that knows the replica.
func StartFailover(tb testing.TB, opts ...Option) *Failover {
	tb.Helper()
	master, replica := StartReplicated(tb, opts...)
	f := &Failover{Master: master, Replica: replica, MasterName: "mymaster"}
	extra := fmt.Sprintf("sentinel down-after-milliseconds %[1]s 2000\nsentinel failover-timeout %[1]s 10000\n", f.MasterName)
	f.Addr = startSentinel(tb, master, f.MasterName, extra, func(addr string) bool {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer sc.Close()
		return testutil.Poll(15*time.Second, func() bool {
			rs, err := sc.Replicas(context.Background(), f.MasterName).Result()
			return err == nil && len(rs) == 1
		})
	})
	return f
}

// Promote has the Sentinel fail the master over to the replica now, and waits until it
// names the replica as the master.
func (f *Failover) Promote(tb testing.TB, d time.Duration) {
	tb.Helper()
	ctx := context.Background()
	sc := redis.NewSentinelClient(&redis.Options{Addr: f.Addr, MaxRetries: -1})
	defer sc.Close()
	if err := sc.Failover(ctx, f.MasterName).Err(); err != nil {
		tb.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	if !testutil.Poll(d, func() bool {
		got, err := sc.GetMasterAddrByName(ctx, f.MasterName).Result()
		return err == nil && len(got) == 2 && got[0]+":"+got[1] == f.Replica.Addr
	}) {
		tb.Fatalf("the Sentinel did not promote the replica within %v", d)
	}
}
