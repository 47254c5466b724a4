package redistest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a real Redis Cluster of three masters owned by one test.
type Cluster struct {
	// Nodes are the masters, in the order they were started.
	Nodes []*Node
}

// Node is one redis-server of a Cluster.
type Node struct {
	Addr string
	cmd  *exec.Cmd
}

// Kill stops the node at once, as a crash would.
func (n *Node) Kill() {
	if n.cmd.Process != nil {
		n.cmd.Process.Kill()
		n.cmd.Wait()
	}
}

// StartCluster launches three `redis-server --cluster-enabled yes` on free ports, joins
// them with `redis-cli --cluster create`, waits until every slot is served, and stops
// them when the test ends. It skips the test when redis-cli is not installed.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Skipf("redis-cli is not installed, so no Redis Cluster can be formed: %v", err)
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed (apt-get install redis-server): %v", err)
	}
	c := &Cluster{}
	for len(c.Nodes) < 3 {
		var n *Node
		for attempt := 0; attempt < 5 && n == nil; attempt++ {
			n = startNode(tb, server)
		}
		if n == nil {
			tb.Fatal("redis-server did not start in cluster mode")
		}
		c.Nodes = append(c.Nodes, n)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitReady(tb, 20*time.Second)
	return c
}

// startNode starts one cluster-enabled redis-server, or returns nil when it does not
// answer (it lost the port race to another process).
func startNode(tb testing.TB, server string) *Node {
	tb.Helper()
	port := nodePort(tb)
	cmd := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", tb.TempDir(), "--logfile", "",
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(nodePort(tb)),
		"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	s := &Server{Addr: n.Addr}
	if s.waitReady(5 * time.Second) {
		tb.Cleanup(n.Kill)
		return n
	}
	n.Kill()
	return nil
}

// Addrs are the nodes' host:port addresses, to seed a cluster client with.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Client returns a go-redis cluster client, closed at the end of the test.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	tb.Cleanup(func() { cc.Close() })
	return cc
}

// waitReady polls every node until it reports cluster_state:ok and the cluster client
// sees all three masters.
func (c *Cluster) waitReady(tb testing.TB, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for _, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				rc.Close()
				tb.Fatalf("the cluster did not become ready: %v %q", err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rc.Close()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	for {
		var masters atomic.Int32 // ForEachMaster calls concurrently
		err := cc.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
			masters.Add(1)
			return m.Ping(ctx).Err()
		})
		if err == nil && int(masters.Load()) == len(c.Nodes) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the cluster client sees %d masters (%v), want %d", masters.Load(), err, len(c.Nodes))
		}
		time.Sleep(50 * time.Millisecond)
		cc.ReloadState(context.Background())
	}
}

// nodePort finds a free loopback port for a node or its cluster bus.
func nodePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
