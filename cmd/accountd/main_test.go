package main

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	clients := filepath.Join(t.TempDir(), "clients")
	if err := os.WriteFile(clients, []byte("# the platform's services\nbuilds:builds-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--data", dir, "--http", "127.0.0.1:0",
		"--eventstore-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--introspection-client-file", clients)
	cmd.Env = append(os.Environ(), childEnv+"=1", "EVENTSTORE_URL=", "NATS_URL=", "MONGO_URI=",
		"ACCOUNTD_INTROSPECTION_CLIENT=projects:projects-secret-0123456789")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	url, metricsURL := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "accountd listening on "); ok {
				url <- strings.Fields(rest)[0]
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "metrics on "); ok {
				metricsURL <- rest
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
	// /metrics is on its own listener, not on the public one.
	var metrics string
	select {
	case metrics = <-metricsURL:
	case <-time.After(10 * time.Second):
		t.Fatal("no metrics address printed")
	}
	for url, want := range map[string]int{metrics: 200, base + "/metrics": 404} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", url, res.StatusCode, want)
		}
	}
	// The introspection clients from the environment and the file, and no
	// one else, may introspect.
	for _, c := range []struct {
		id, secret string
		status     int
	}{{"projects", "projects-secret-0123456789", 200}, {"builds", "builds-secret-0123456789", 200}, {"projects", "builds-secret-0123456789", 401}} {
		req, _ := http.NewRequest("POST", base+"/v1/tokens/introspect", strings.NewReader("token=acp_x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.id, c.secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Fatalf("introspection as %s: %d, want %d", c.id, res.StatusCode, c.status)
		}
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
		{"help warns of the flag's secret", []string{"--help"}, 0, "Visible to every local user|-introspection-client-file|ACCOUNTD_INTROSPECTION_CLIENT|at least 16 characters"},
		{"short introspection secret", []string{"--introspection-client", "projects:short"}, 2, "shorter than 16 characters"},
		{"missing introspection client file", []string{"--introspection-client-file", "/nonexistent/clients"}, 2, "--introspection-client-file"},
		{"bad picture upload limit", []string{"--picture-upload-limit", "10/never"}, 2, "--picture-upload-limit"},
		{"help says the picture upload limit", []string{"--help"}, 0, "-picture-upload-limit"},
		{"every bad address at once", []string{"--data", "DATA", "--eventstore-listen", "nowhere", "--nats-listen", "elsewhere"}, 1, "event store listen address|NATS listen address"},
		{"bad metrics address and allowed host", []string{"--data", "DATA", "--metrics-listen", "nowhere", "--allowed-hosts", "ok.example,http://bad.example/"}, 1,
			"metrics listen address|nowhere|allowed host|http://bad.example/"},
		{"metrics on the HTTP address", []string{"--data", "DATA", "--http", "127.0.0.1:8181", "--metrics-listen", "127.0.0.1:8181"}, 1, "a listener of their own"},
		{"help names the metrics listener", []string{"--help"}, 0, "-metrics-listen|-allowed-hosts"},
		{"help states every flag's limits", []string{"--help"}, 0,
			"port 0: a free port|N at least 1 and DURATION positive|removed (in the background); at least 1 (0: the default)|not a built-in scope|may expire; at least 1h|(0: the default)|not negative|not the --http address"},
		{"negative audit retention", []string{"--data", "DATA", "--audit-retention-days", "-1"}, 1, "shorter than a day"},
		{"token lifetime under an hour", []string{"--data", "DATA", "--token-max-lifetime", "59m"}, 1, "shorter than an hour"},
		{"bad scope name", []string{"--data", "DATA", "--scope", "Projects=Read"}, 1, "want a lower-case name"},
		{"negative readiness lag", []string{"--data", "DATA", "--ready-max-lag", "-1s"}, 1, "must not be negative"},
		{"an external server without a secret key", []string{"--data", "DATA", "--nats-url", "nats://127.0.0.1:1"}, 1, "secret key must be given|never generated"},
		{"a missing secret key file", []string{"--data", "DATA", "--secret-key-file", "/nonexistent/secret.key"}, 2, "--secret-key-file"},
		{"help names the secret key file", []string{"--help"}, 0, "-secret-key-file|same on every replica"},
		{"bootstrap creates what replicas need and exits 0", []string{"--data", "DATA", "--eventstore-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "bootstrap"}, 0, "bootstrap done"},
		{"an unknown command", []string{"serve"}, 2, "the one command is bootstrap"},
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

func TestIntrospectionClients(t *testing.T) {
	files := map[string]string{
		"clients": "# services\n\nbuilds:builds-secret-0123456789\r\n  deploys:deploys-secret-0123456789:with:colons  \n",
		"short":   "builds:short\n",
		"broken":  "# fine\nno colon here\n",
		"dup":     "projects:projects-secret-0123456789\n",
	}
	read := func(name string) ([]byte, error) {
		if f, ok := files[name]; ok {
			return []byte(f), nil
		}
		return nil, os.ErrNotExist
	}
	tests := []struct {
		name       string
		flags      []string
		env, file  string
		want       map[string]string
		errContain string
	}{
		{name: "none", want: map[string]string{}},
		{name: "the flag still works", flags: []string{"projects:projects-secret-0123456789"}, want: map[string]string{"projects": "projects-secret-0123456789"}},
		{name: "environment, by commas and newlines", env: "projects:projects-secret-0123456789, builds:builds-secret-0123456789\ndeploys:deploys-secret-0123456789\n",
			want: map[string]string{"projects": "projects-secret-0123456789", "builds": "builds-secret-0123456789", "deploys": "deploys-secret-0123456789"}},
		{name: "file, with comments and blank lines", file: "clients",
			want: map[string]string{"builds": "builds-secret-0123456789", "deploys": "deploys-secret-0123456789:with:colons"}},
		{name: "all three", flags: []string{"a:aaaaaaaaaaaaaaaa"}, env: "b:bbbbbbbbbbbbbbbb", file: "clients",
			want: map[string]string{"a": "aaaaaaaaaaaaaaaa", "b": "bbbbbbbbbbbbbbbb", "builds": "builds-secret-0123456789", "deploys": "deploys-secret-0123456789:with:colons"}},
		{name: "a short secret in the environment", env: "projects:short", errContain: "ACCOUNTD_INTROSPECTION_CLIENT entry 1: the secret of client \"projects\" is shorter than 16"},
		{name: "a short secret in the file", file: "short", errContain: "short line 1: the secret of client \"builds\" is shorter than 16"},
		{name: "no colon in the file", file: "broken", errContain: "broken line 2: want ID:SECRET"},
		{name: "no id", env: ":projects-secret-0123456789", errContain: "want ID:SECRET"},
		{name: "one client twice", env: "projects:other-secret-0123456789", file: "dup", errContain: "client \"projects\" is given twice"},
		{name: "a missing file", file: "nowhere", errContain: "--introspection-client-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := introspectionClients(tt.flags, tt.env, tt.file, read)
			if tt.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errContain) {
					t.Fatalf("err %v, want %q", err, tt.errContain)
				}
				if strings.Contains(err.Error(), "secret-0123456789") || strings.Contains(err.Error(), ":short") {
					t.Fatalf("the error shows a secret: %v", err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("%v %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestSecretKeyFrom(t *testing.T) {
	files := map[string]string{"key": "  c2VjcmV0\n", "empty": "\n"}
	read := func(name string) ([]byte, error) {
		if f, ok := files[name]; ok {
			return []byte(f), nil
		}
		return nil, os.ErrNotExist
	}
	tests := []struct {
		name, env, file, want, errContain string
	}{
		{name: "neither"},
		{name: "environment", env: "c2VjcmV0\n", want: "c2VjcmV0"},
		{name: "file, white space trimmed", file: "key", want: "c2VjcmV0"},
		{name: "both", env: "c2VjcmV0", file: "key", errContain: "given twice"},
		{name: "empty file", file: "empty", errContain: "is empty"},
		{name: "missing file", file: "nowhere", errContain: "--secret-key-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretKeyFrom(tt.env, tt.file, read)
			if tt.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errContain) || strings.Contains(err.Error(), "c2VjcmV0") {
					t.Fatalf("err %v, want %q and no key", err, tt.errContain)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("%q %v, want %q", got, err, tt.want)
			}
		})
	}
}
