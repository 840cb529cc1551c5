package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is one server of the cluster running as a child process: a
// replica, a NATS node, the event store or PostgreSQL. It can be signalled,
// killed, stopped and started again with the same command line, ports and
// data, and paused and resumed.
type Process struct {
	name     string
	path     string
	args     []string
	env      []string
	dir      string
	addr     string              // what it serves, host:port
	logFile  string              // stdout and stderr, appended across starts
	cred     *syscall.Credential // nil: run as ourselves
	stopSig  syscall.Signal      // a clean shutdown
	deathSig syscall.Signal      // sent when devcluster dies; 0: SIGKILL
	ready    func(context.Context) error
	spawner  *spawner
	stopWait time.Duration // how long Stop waits for a clean exit before SIGKILL
	// drainWait is how long Stop keeps a replica out of the proxy's turns
	// before it signals it, as a balancer stops sending new requests to a
	// terminating pod (its preStop pause): requests already on their way
	// finish, and none arrives on a closing connection.
	drainWait time.Duration
	// inRotation: ready, and not being stopped; the proxy sends requests
	// only to such replicas, as a balancer follows readiness.
	inRotation atomic.Bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current run has ended
	state  *os.ProcessState
	onExit func(p *Process, state *os.ProcessState) // notified of every exit
}

// Name is the process's name in logs and errors ("replica-0", "nats-1").
func (p *Process) Name() string { return p.name }

// Addr is the host:port the process serves.
func (p *Process) Addr() string { return p.addr }

// LogFile is the file that collects the process's output.
func (p *Process) LogFile() string { return p.logFile }

// PID is the process id of the current run, or 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.state != nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process has been started and has not exited.
func (p *Process) Running() bool { return p.PID() != 0 }

// serving: running, ready and not being stopped (the proxy's choice).
func (p *Process) serving() bool { return p.Running() && p.inRotation.Load() }

// Signal sends sig to the process (SIGSTOP pauses it, SIGCONT resumes it,
// SIGKILL kills it at once); it does not wait for anything.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.state != nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: signal %v: %w", p.name, sig, err)
	}
	return nil
}

// Pause stops the process with SIGSTOP: it keeps its connections but does
// nothing, like a process stuck in a long pause.
func (p *Process) Pause() error { return p.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() error { return p.Signal(syscall.SIGCONT) }

// Kill kills the process with SIGKILL (kill -9) and waits until it is gone.
func (p *Process) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.Wait(context.Background())
}

// Wait waits until the current run has exited, or ctx ends.
func (p *Process) Wait(ctx context.Context) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s did not exit: %w", p.name, ctx.Err())
	}
}

// Stop shuts the process down cleanly (its usual stop signal, SIGCONT in
// case it is paused), and kills it if it has not exited in time or when ctx
// ends. Stopping a process that is not running does nothing.
func (p *Process) Stop(ctx context.Context) error {
	if !p.Running() {
		return nil
	}
	if p.inRotation.Swap(false) && p.drainWait > 0 {
		select {
		case <-time.After(p.drainWait):
		case <-ctx.Done():
		}
	}
	_ = p.Signal(p.stopSig)
	_ = p.Signal(syscall.SIGCONT)
	waitCtx, cancel := context.WithTimeout(ctx, p.stopWait)
	defer cancel()
	if p.Wait(waitCtx) == nil {
		return nil
	}
	_ = p.Signal(syscall.SIGKILL)
	return p.Wait(context.Background())
}

// Start runs the process again (or the first time) with the same command
// line, ports and data, and waits until it serves.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil && p.state == nil {
		p.mu.Unlock()
		return fmt.Errorf("%s is already running", p.name)
	}
	p.mu.Unlock()
	p.inRotation.Store(false) // until ready (a killed run left it set)
	log, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "--- devcluster: starting %s at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.dir, p.env, log, log
	deathSig := p.deathSig
	if deathSig == 0 {
		deathSig = syscall.SIGKILL
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches only
		// devcluster, which then stops everything in order.
		Setpgid: true,
		// Dies with devcluster, even when devcluster is killed -9 (the
		// kernel sends this when the thread that started it ends: see
		// spawner). Set after the credentials are changed, so it holds.
		Pdeathsig:  deathSig,
		Credential: p.cred,
	}
	if err := p.spawner.start(cmd); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.state = cmd, exited, nil
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		log.Close()
		p.mu.Lock()
		p.state = cmd.ProcessState
		onExit := p.onExit
		p.mu.Unlock()
		close(exited)
		if onExit != nil {
			onExit(p, cmd.ProcessState)
		}
	}()
	if err := p.waitReady(ctx, exited); err != nil {
		_ = p.Stop(context.Background())
		return err
	}
	p.inRotation.Store(true)
	return nil
}

// waitReady polls the readiness check until it passes, the process exits
// or ctx ends; errors carry the end of the process's log.
func (p *Process) waitReady(ctx context.Context, exited <-chan struct{}) error {
	var last error
	for {
		checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = p.ready(checkCtx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting (%v); its log %s ends:\n%s", p.name, p.exitState(), p.logFile, tail(p.logFile, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready (%v): %w; its log %s ends:\n%s", p.name, last, ctx.Err(), p.logFile, tail(p.logFile, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *Process) exitState() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return "running"
	}
	return p.state.String()
}

// tail is the last n lines of a file, for error messages.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.ReplaceAll(string(bytes.Join(lines, []byte("\n"))), "\n", "\n  ")
}

// spawner starts every child from one OS thread that stays alive until the
// cluster closes. Pdeathsig fires when the thread that forked the child
// exits, not the process: a child started from an arbitrary goroutine could
// be killed whenever the Go runtime retires that thread. When the cluster
// closes, the thread exits too, so anything still running gets its signal.
type spawner struct {
	mu       sync.Mutex
	closed   bool
	requests chan spawnRequest
	done     chan struct{}
}

type spawnRequest struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{requests: make(chan spawnRequest), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		defer close(s.done)
		for req := range s.requests {
			req.err <- req.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("the cluster is closed")
	}
	req := spawnRequest{cmd: cmd, err: make(chan error, 1)}
	s.requests <- req
	return <-req.err
}

// close ends the thread; children still running get their Pdeathsig.
func (s *spawner) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.requests)
	}
	s.mu.Unlock()
	<-s.done
}
