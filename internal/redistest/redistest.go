package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/testutil"
)

// Server is a running redis-server owned by one test.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	args []string
}

// Option adjusts the server Start launches.
type Option func(args []string) []string

// Durable makes the server write every change to an append-only file before it answers
// (appendonly yes, appendfsync always), as a production Redis for Rapport should be: a
// Kill then Resume loses nothing the server acknowledged.
func Durable() Option {
	return func(args []string) []string {
		for i, a := range args {
			if a == "--appendonly" {
				args[i+1] = "yes"
			}
		}
		return append(args, "--appendfsync", "always")
	}
}

// Start launches redis-server on a free loopback port and stops it at the end of the test.
// It fails the test when redis-server is not installed.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Launch(tb.TempDir(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// Launch starts redis-server on a free loopback port, with nothing saved to disk and dir
// as its working directory, for callers that are not tests (`rapport bench`). The caller
// stops it with Kill.
func Launch(dir string, opts ...Option) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (apt-get install redis-server): %w", err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), args: []string{path, "--port", strconv.Itoa(port),
			"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", ""}}
		for _, o := range opts {
			s.args = o(s.args)
		}
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		if s.waitReady(5 * time.Second) {
			return s, nil
		}
		s.Kill() // lost the port race to another process; try another one
	}
	return nil, errors.New("redis-server did not start")
}

func (s *Server) run() error {
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() { // drain the log so the server never blocks on it
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
		}
	}()
	return nil
}

// Stop shuts the server down the way an operator restarting it does: it saves its data
// first, so that Resume finds it again. It is safe to call from any goroutine.
func (s *Server) Stop() {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	c.ShutdownSave(context.Background()) // the connection closes: there is no answer
	s.cmd.Wait()
}

// Resume starts a stopped server again on its address, with the data it saved, and
// waits until it answers. It is safe to call from any goroutine.
func (s *Server) Resume() error {
	if err := s.run(); err != nil {
		return fmt.Errorf("restart redis-server: %w", err)
	}
	if !s.waitReady(5 * time.Second) {
		return fmt.Errorf("redis-server on %s did not start again", s.Addr)
	}
	return nil
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a go-redis client for the server, closed at the end of the test.
func (s *Server) Client(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { c.Close() })
	return c
}

// Kill stops the server at once, as a crash would.
func (s *Server) Kill() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *Server) waitReady(d time.Duration) bool {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	return testutil.Poll(d, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
