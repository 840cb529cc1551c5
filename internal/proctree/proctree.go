// Package proctree reads Linux's /proc to find the processes below one:
// tests use it to check that nothing a cluster started outlives it.
package proctree

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Proc is a process as /proc shows it: a pid names the same process only
// as long as its start time is the same (pids are reused).
type Proc struct {
	PID, Parent int
	State       string
	Started     string // clock ticks after boot
	Cmd         string
}

// Read reads /proc/<pid>; false when there is no such process.
func Read(pid int) (Proc, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Proc{}, false
	}
	// pid (comm) state ppid ... starttime (the 22nd field): comm may hold
	// spaces and parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 {
		return Proc{}, false
	}
	p := Proc{PID: pid, State: fields[0], Started: fields[19]}
	p.Parent, _ = strconv.Atoi(fields[1])
	cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	p.Cmd = strings.ReplaceAll(string(cmd), "\x00", " ")
	return p, true
}

// Alive reports whether p still runs (a zombie, dead but not yet reaped,
// counts as gone).
func (p Proc) Alive() bool {
	now, ok := Read(p.PID)
	return ok && now.Started == p.Started && now.State != "Z"
}

// Descendants are the processes below pid; an error when /proc cannot be
// read.
func Descendants(pid int) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	all := map[int]Proc{}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			if p, ok := Read(n); ok {
				all[n] = p
			}
		}
	}
	var out []Proc
	for _, p := range all {
		for q := p.Parent; q > 1; q = all[q].Parent {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}
