package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const childEnv = "ACCOUNTD_TEST_CHILD"

// The test binary doubles as accountd, so the test stops a real process.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestStartsServesAndStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "--data", dir, "--http", "127.0.0.1:0",
		"--eventstore-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), childEnv+"=1", "EVENTSTORE_URL=", "NATS_URL=", "MONGO_URI=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "accountd listening on "); ok {
				url <- strings.Fields(rest)[0]
			}
		}
		close(url)
	}()
	var base string
	select {
	case u, ok := <-url:
		if !ok {
			t.Fatalf("exited before listening: %s", stderr.String())
		}
		base = u
	case <-time.After(60 * time.Second):
		t.Fatalf("did not start: %s", stderr.String())
	}
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "ok") {
		t.Fatalf("healthz %d %s", res.StatusCode, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped cleanly") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"help lists every address", []string{"--help"}, 0, "-eventstore-url"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"serve"}, 2, "unexpected argument"},
		{"bad registration limit", []string{"--registration-limit", "lots"}, 2, "--registration-limit"},
		{"bad picture upload limit", []string{"--picture-upload-limit", "10/never"}, 2, "--picture-upload-limit"},
		{"help says the picture upload limit", []string{"--help"}, 0, "-picture-upload-limit"},
		{"every bad address at once", []string{"--data", "DATA", "--eventstore-listen", "nowhere", "--nats-listen", "elsewhere"}, 1, "event store listen address|NATS listen address"},
		{"busy HTTP address", []string{"--http", "256.0.0.1:1", "--data", "DATA", "--eventstore-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, 1, "cannot start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, a := range tt.args {
				if a == "DATA" {
					tt.args[i] = t.TempDir()
				}
			}
			var out bytes.Buffer
			code := run(tt.args, func(string) string { return "" }, &out, &out)
			for _, want := range strings.Split(tt.out, "|") {
				if code != tt.code || !strings.Contains(out.String(), want) {
					t.Fatalf("exit %d, output %q, want %q", code, out.String(), want)
				}
			}
		})
	}
}
