package main

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"github.com/accountd/accountd/internal/benchkit"
)

// clockTick is USER_HZ, the unit of /proc/stat; 100 on every Linux port
// Go supports.
const clockTick = 10 * time.Millisecond

// hostBusy is the CPU time all processes on the host have used since boot
// (everything but idle and iowait), from /proc/stat; ok is false where that
// file does not exist.
func hostBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0, false
	}
	var busy int64
	for i, f := range fields[1:] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, false
		}
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, true
}

// cpuSample is the CPU time of this process and of the host at one moment.
type cpuSample struct {
	self, host time.Duration
	hostOK     bool
}

func sampleCPU() cpuSample {
	host, ok := hostBusy()
	return cpuSample{self: benchkit.ProcessCPU(), host: host, hostOK: ok}
}

// cpuUse is what was used between two samples.
type cpuUse struct {
	Self   time.Duration // by this process (client and servers)
	Others time.Duration // by every other process on the host; -1 if unknown
}

func (s cpuSample) until(e cpuSample) cpuUse {
	u := cpuUse{Self: e.self - s.self, Others: -1}
	if s.hostOK && e.hostOK {
		u.Others = max(e.host-s.host-u.Self, 0)
	}
	return u
}
