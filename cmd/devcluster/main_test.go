package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/devcluster"
	"github.com/accountd/accountd/internal/proctree"
)

const childEnv = "DEVCLUSTER_TEST_CHILD"

// The test binary doubles as devcluster, so a test can kill a real one.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestBadFlagsAreRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"no replicas", []string{"-n", "0"}},
		{"too many replicas", []string{"-n", "65"}},
		{"unknown flag", []string{"--replicas", "3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); tt.name != "unknown flag" && lines != 0 {
				t.Fatalf("want a one-line error, got %q", stderr.String())
			}
		})
	}
}

// devcluster killed with SIGKILL cannot stop anything itself: the kernel
// kills its children (Pdeathsig), PostgreSQL's own included.
func TestChildrenDieWithAKilledDevcluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin, err := devcluster.Build(ctx, devcluster.BuildOptions{}) // the slow part, before the clock starts
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-n", "1", "--bin", bin)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	up := make(chan bool, 1)
	dir := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if env, ok := strings.CutPrefix(sc.Text(), "passwords: "); ok {
				dir <- filepath.Dir(strings.Fields(env)[0])
			}
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops everything") {
				up <- true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(up)
	}()
	select {
	case ok := <-up:
		if !ok {
			if strings.Contains(stderr.String(), devcluster.ErrNoPostgres.Error()) && os.Getenv("CI") != "true" {
				t.Skip(devcluster.ErrNoPostgres)
			}
			t.Fatalf("devcluster exited: %s", stderr.String())
		}
	case <-time.After(3 * time.Minute): // a guard against hangs: a loaded machine is slow
		t.Fatalf("devcluster did not start: %s", stderr.String())
	}
	// Killed, devcluster leaves its temporary directory behind.
	t.Cleanup(func() { os.RemoveAll(<-dir) })
	children := descendants(t, cmd.Process.Pid)
	if len(children) < 6 { // postgres (and its own), 3 NATS nodes, eventstored, a replica
		t.Fatalf("children %v", children)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range children {
		for p.Alive() {
			if time.Now().After(deadline) {
				t.Fatalf("process %d (%s) outlived the killed devcluster", p.PID, p.Cmd)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// descendants are the processes below pid.
func descendants(t *testing.T, pid int) []proctree.Proc {
	t.Helper()
	out, err := proctree.Descendants(pid)
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	return out
}
