// Package readme_test runs the README: its shell blocks, in order, with
// bash, against a fresh service started the way the README starts it, so
// the README and the service cannot drift apart.
//
// The conventions (stated in the README's "Try it"):
//   - Only fenced ```sh blocks run; indented blocks (the first two commands,
//     which build and test everything) do not.
//   - A command line whose comment starts with an HTTP status (`# 404`,
//     `# 403: needs profile:write`) asserts that every curl it runs gets that
//     status; every other curl outside a loop condition must get a 2xx. Any
//     other failing command fails the test too (bash -e, pipefail).
//   - A command commented `# until Ctrl-C` is a server or a follower: it
//     runs in the background until it prints its first line, then gets
//     Ctrl-C (SIGINT) and must exit 0.
//
// The test isolates what it must and nothing else: bash runs in a fresh
// directory (so `./data` is new), `go run ./cmd/NAME` runs the binaries
// built once for the test and given free loopback ports, and
// `localhost:8080` in the commands becomes the service's free port.
package readme_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scriptTimeout bounds one run of the README (the build is not counted).
const scriptTimeout = 5 * time.Minute

func TestREADME(t *testing.T) {
	requireTools(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := parseREADME(string(readme))
	if len(cmds) == 0 {
		t.Fatal("README.md has no ```sh block")
	}

	bin := t.TempDir()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the README test builds the binaries with go: %v", err)
	}
	build := exec.Command(gobin, "build", "-o", bin, "./cmd/accountd", "./cmd/accountctl", "./cmd/eventstored")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ports := freePorts(t, 5)
	shim := t.TempDir()
	// The README says `go run ./cmd/NAME`: run the binary built above, on
	// the test's own ports (flags given last win).
	goShim := fmt.Sprintf(`#!/usr/bin/env bash
case "$1 $2" in
"run ./cmd/accountd") shift 2; exec %[1]q/accountd "$@" --http 127.0.0.1:%[2]d --metrics-listen 127.0.0.1:%[3]d --eventstore-listen 127.0.0.1:%[4]d --nats-listen 127.0.0.1:%[5]d ;;
"run ./cmd/accountctl") shift 2; exec %[1]q/accountctl "$@" --eventstore-listen 127.0.0.1:%[4]d --nats-listen 127.0.0.1:%[5]d ;;
"run ./cmd/eventstored") shift 2; exec %[1]q/eventstored "$@" --listen 127.0.0.1:%[6]d ;;
*) echo "README test: no stand-in for: go $*" >&2; exit 1 ;;
esac
`, bin, ports[0], ports[1], ports[2], ports[3], ports[4])
	if err := os.WriteFile(filepath.Join(shim, "go"), []byte(goShim), 0o755); err != nil {
		t.Fatal(err)
	}

	res := runScript(t, cmds, map[string]string{"localhost:8080": fmt.Sprintf("127.0.0.1:%d", ports[0])}, shim)
	if res.failed() {
		t.Errorf("the README and the service disagree:\n%s", res.report(cmds))
		if log, err := os.ReadFile(filepath.Join(res.work, "accountd.log")); err == nil {
			t.Logf("accountd.log (last lines):\n%s", tail(string(log), 12))
		}
	}
}

// TestHarnessCatchesWrongStatus shows that a documented status the service
// does not give fails the run, naming the README line, and that a right one
// passes.
func TestHarnessCatchesWrongStatus(t *testing.T) {
	requireTools(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"id":"abc"}`))
	}))
	defer srv.Close()
	addr := map[string]string{"localhost:8080": strings.TrimPrefix(srv.URL, "http://")}
	for _, tc := range []struct {
		name     string
		readme   string
		wantFail string // "" passes; else the README line reported
	}{
		{"documented status given", "# T\n\n```sh\nID=$(curl -s localhost:8080/x | jq -r .id)\ncurl -s localhost:8080/missing   # 404\ntest \"$ID\" = abc\n```\n", ""},
		{"documented status not given", "# T\n\n```sh\ncurl -s localhost:8080/x\ncurl -s localhost:8080/x   # 404\n```\n", "README.md:5"},
		{"an error without a status comment", "# T\n\n```sh\ncurl -s localhost:8080/missing\n```\n", "README.md:4"},
		{"continued line", "# T\n\n```sh\ncurl -s localhost:8080/x \\\n  -H 'A: b'   # 401\n```\n", "README.md:4"},
		{"status comment on a line that runs no curl", "# T\n\n```sh\ntrue   # 404\n```\n", "README.md:4"},
		{"failing command", "# T\n\n```sh\ntrue\nfalse\n```\n", "README.md:5"},
		{"server until Ctrl-C", "# T\n\n```sh\nbash -c 'trap \"exit 0\" INT; echo up; while :; do sleep 0.1; done'   # until Ctrl-C\n```\n", ""},
		{"server that exits early", "# T\n\n```sh\nbash -c 'echo nope >&2; exit 2'   # until Ctrl-C\n```\n", "README.md:4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds := parseREADME(tc.readme)
			res := runScript(t, cmds, addr, "")
			switch {
			case tc.wantFail == "" && res.failed():
				t.Errorf("want a pass, got:\n%s", res.report(cmds))
			case tc.wantFail != "" && !res.failed():
				t.Errorf("want a failure at %s, got a pass", tc.wantFail)
			case tc.wantFail != "" && !strings.Contains(res.report(cmds), tc.wantFail+" ("):
				t.Errorf("want a failure at %s, got:\n%s", tc.wantFail, res.report(cmds))
			}
		})
	}
}

// requireTools skips without the tools the README uses (bash, curl, jq,
// base64, openssl), except in CI, where it fails.
func requireTools(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "base64", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README test needs %s (CI installs it in .ci/run)", tool)
			}
			t.Skipf("the README test needs %s", tool)
		}
	}
}

// command is one logical command line of a ```sh block (physical lines
// joined by trailing backslashes).
type command struct {
	line    int    // README line of its first physical line
	heading string // the section it is in
	block   int    // which ```sh block, from 1
	inBlock int    // its line within the block, from 1
	text    string // as written, continuation lines included
	want    string // "2xx", a status like "404", or "" (no HTTP check)
	untilC  bool   // "# until Ctrl-C": run until it prints, then interrupt
}

var (
	statusComment = regexp.MustCompile(`\s#\s*([1-5][0-9][0-9])\b`)
	untilCtrlC    = regexp.MustCompile(`\s#\s*until Ctrl-C\b.*$`)
	loopOrTest    = regexp.MustCompile(`^(until|while|if|for)\b`)
)

// parseREADME returns the command lines of the ```sh blocks, in order.
func parseREADME(readme string) []command {
	var (
		cmds    []command
		heading string
		inSh    bool
		block   int
		start   int
		cur     []string
	)
	lines := strings.Split(readme, "\n")
	for i, l := range lines {
		n := i + 1
		trimmed := strings.TrimSpace(l)
		if !inSh {
			if strings.HasPrefix(l, "#") {
				heading = strings.TrimSpace(l)
			}
			if trimmed == "```sh" {
				inSh, block, start = true, block+1, n
			}
			continue
		}
		if trimmed == "```" {
			inSh = false
			continue
		}
		if len(cur) == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if len(cur) == 0 {
			cmds = append(cmds, command{line: n, heading: heading, block: block, inBlock: n - start})
		}
		cur = append(cur, l)
		if strings.HasSuffix(l, `\`) {
			continue
		}
		c := &cmds[len(cmds)-1]
		c.text = strings.Join(cur, "\n")
		cur = nil
		switch {
		case untilCtrlC.MatchString(l):
			c.untilC = true
		case loopOrTest.MatchString(strings.TrimSpace(c.text)):
		case statusComment.MatchString(l):
			c.want = statusComment.FindStringSubmatch(l)[1]
		default:
			c.want = "2xx"
		}
	}
	return cmds
}

// prelude: bash -e with pipefail; curl checks statuses; failures name the
// README line.
const prelude = `set -Eeuo pipefail
__where=prelude
__want=
trap 'echo "__FAILED $__where: exit status $?: $BASH_COMMAND" >&2' ERR
curl() {
  if [ -z "$__want" ]; then command curl "$@"; return; fi
  local err rc=0 got
  err=$(mktemp)
  command curl "$@" -w '%{stderr}\n__HTTP_STATUS %{http_code}\n' 2>"$err" || rc=$?
  got=$(sed -n 's/^__HTTP_STATUS //p' "$err" | tail -n 1)
  grep -v '^__HTTP_STATUS \|^$' "$err" >&2 || true
  rm -f "$err"
  echo "$__where" >>"$__CHECKED"
  case "$__want" in
    2xx) [[ $got == 2?? ]] ;;
    *) [ "$got" = "$__want" ] ;;
  esac || { echo "__MISMATCH $__where: want HTTP $__want, got ${got:-none}" >&2; return 1; }
  return $rc
}
__until_ctrl_c() {
  local pid=$1 out=$2 err=$3 i rc=0
  for ((i = 0; i < 1200; i++)); do
    [ -s "$out" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || rc=$?
      echo "__FAILED $__where: exited ($rc) before it printed anything:" >&2; cat "$err" >&2
      return 1
    fi
    sleep 0.1
  done
  [ -s "$out" ] || { echo "__FAILED $__where: printed nothing in 2 minutes" >&2; kill -KILL "$pid"; return 1; }
  # Go ignores SIGINT until it asks for it: send it until the process is gone.
  for ((i = 0; i < 120; i++)); do kill -INT "$pid" 2>/dev/null || break; sleep 0.5; done
  wait "$pid" || rc=$?
  cat "$out"
  if [ "$rc" != 0 ]; then
    echo "__FAILED $__where: exit status $rc after Ctrl-C:" >&2; cat "$err" >&2
    return 1
  fi
}
`

type result struct {
	work   string // the directory the README ran in
	err    error
	stdout string
	stderr string
	done   bool
	// unchecked lists README lines with a status comment that ran no curl.
	unchecked []int
}

func (r result) failed() bool { return r.err != nil || !r.done || len(r.unchecked) > 0 }

var failLine = regexp.MustCompile(`__(?:MISMATCH|FAILED) README\.md:(\d+)[^\n]*`)

// report names the first failing README line, its block and its command.
func (r result) report(cmds []command) string {
	var b strings.Builder
	byLine := map[string]command{}
	for _, c := range cmds {
		byLine[fmt.Sprint(c.line)] = c
	}
	describe := func(line string) string {
		c := byLine[line]
		return fmt.Sprintf("README.md:%s (block %d, under %q, its line %d):\n    %s\n",
			line, c.block, c.heading, c.inBlock, strings.ReplaceAll(c.text, "\n", "\n    "))
	}
	if m := failLine.FindStringSubmatch(r.stderr); m != nil {
		b.WriteString(describe(m[1]))
		b.WriteString("  " + m[0] + "\n")
	}
	for _, l := range r.unchecked {
		b.WriteString(describe(fmt.Sprint(l)))
		b.WriteString("  documents a status, but ran no curl\n")
	}
	if r.err != nil {
		fmt.Fprintf(&b, "bash: %v\n", r.err)
	} else if !r.done {
		b.WriteString("bash stopped before the end of the README\n")
	}
	fmt.Fprintf(&b, "stderr (last lines):\n%s\nstdout (last lines):\n%s", tail(r.stderr, 20), tail(r.stdout, 12))
	return b.String()
}

// runScript runs cmds with bash in a new directory, with the addresses in
// rewrite replaced and shimDir (if any) first in PATH, and kills whatever
// it started when it ends.
func runScript(t *testing.T, cmds []command, rewrite map[string]string, shimDir string) result {
	t.Helper()
	work, aux := t.TempDir(), t.TempDir()
	checked := filepath.Join(aux, "checked")
	var s strings.Builder
	s.WriteString(prelude)
	for _, c := range cmds {
		text := c.text
		for from, to := range rewrite {
			text = strings.ReplaceAll(text, from, to)
		}
		fmt.Fprintf(&s, "__where='README.md:%d'; __want='%s'\n", c.line, c.want)
		if c.untilC {
			text = untilCtrlC.ReplaceAllString(text, "")
			fmt.Fprintf(&s, "__out=$(mktemp); __err=$(mktemp)\n( exec %s ) >\"$__out\" 2>\"$__err\" &\n__until_ctrl_c $! \"$__out\" \"$__err\"\n", text)
		} else {
			s.WriteString(text + "\n")
		}
	}
	s.WriteString("__where=end; __want=\necho __README_DONE__\n")
	script := filepath.Join(aux, "readme.sh")
	if err := os.WriteFile(script, []byte(s.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	path := os.Getenv("PATH")
	if shimDir != "" {
		path = shimDir + string(os.PathListSeparator) + path
	}
	stdout, err := os.Create(filepath.Join(aux, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(aux, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", script)
	cmd.Dir = work
	// A clean environment: no ACCOUNTD_*, EVENTSTORE_URL, ~/.curlrc.
	cmd.Env = []string{"PATH=" + path, "HOME=" + aux, "TMPDIR=" + aux, "LANG=C.UTF-8", "TZ=UTC", "__CHECKED=" + checked}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group: the service and anything else the README
	// starts in the background die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Logf("the README ran in %s", time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		runErr = fmt.Errorf("%w: still running after %s", runErr, scriptTimeout)
	}
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	res := result{work: work, err: runErr, stdout: string(out), stderr: string(errOut),
		done: bytes.Contains(out, []byte("__README_DONE__\n"))}
	ran := map[string]bool{}
	if f, err := os.Open(checked); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			ran[sc.Text()] = true
		}
		f.Close()
	}
	if res.done {
		for _, c := range cmds {
			if c.want != "" && c.want != "2xx" && !ran[fmt.Sprintf("README.md:%d", c.line)] {
				res.unchecked = append(res.unchecked, c.line)
			}
		}
	}
	return res
}

// freePorts finds n free loopback ports (held open together, so distinct).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
