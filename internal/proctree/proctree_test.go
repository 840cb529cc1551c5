package proctree_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/accountd/accountd/internal/proctree"
)

// A child is found below this process while it runs, and is no longer
// alive once it has exited and been reaped.
func TestDescendantsAndAlive(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command: ", err)
	}
	kids, err := proctree.Descendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var child proctree.Proc
	for _, p := range kids {
		if p.PID == cmd.Process.Pid {
			child = p
		}
	}
	if child.PID == 0 || !child.Alive() || child.Parent != os.Getpid() {
		t.Fatalf("child %d not found alive below %d: %+v", cmd.Process.Pid, os.Getpid(), kids)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if child.Alive() {
		t.Fatal("a reaped child is still alive")
	}
}
