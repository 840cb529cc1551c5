package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accountd/accountd/internal/benchkit"
)

// projectorBatch is the projectors' default batch size (projections.Executor).
const projectorBatch = 512

// Targets the service is held to.
const (
	targetPatchRate     = 2000.0                 // PATCH commands/s at the configured clients
	targetPatchVsAppend = 0.40                   // PATCH rate / raw append rate
	targetLagP99        = 100 * time.Millisecond // projection lag p99 at the paced rate
)

func report(w io.Writer, r *results) {
	cfg := r.cfg
	fmt.Fprintf(w, "\naccountbench: account service on embedded servers (event store, NATS JetStream, FerretDB/SQLite), all in this process\n")
	fmt.Fprintf(w, "host: %s\n", hostInfo())
	fmt.Fprintf(w, "data: %s (single-threaded write+fsync: %s/s)\n", r.dataDir, count(r.fsyncRate))
	hashing := "production argon2id parameters"
	if cfg.cheapHashing {
		hashing = "CHEAP argon2id parameters (64 KiB, t=1; PATCH never hashes, so only set-up is affected)"
	}
	fmt.Fprintf(w, "set-up: %d users registered and signed in over HTTP with %s, %.1f s from start\n", cfg.clients, hashing, r.setup.Seconds())

	if r.appends != nil || r.patches != nil {
		fmt.Fprintf(w, "\nThroughput, closed loop: %v warm-up + %v measured; relay and projectors run throughout\n\n", cfg.warmup, cfg.duration)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		rows := []*loadResult{r.patches, r.appends}
		width := len("workload")
		for _, l := range rows {
			if l != nil {
				width = max(width, len(l.Name))
			}
		}
		fmt.Fprintf(tw, "%s\tclients\tops/s\tp50\tp99\tmax\tCPU/op\tCPU\tothers\terrors\t\n", left("workload", width))
		for _, l := range rows {
			if l == nil {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", left(l.Name, width), l.Workers, count(l.Rate()),
				ms(l.Percentile(50)), ms(l.Percentile(99)), ms(l.Percentile(100)), us(l.CPUPerOp()),
				cores(l.CPU.Self, l.Window), cores(l.CPU.Others, l.Window), errorCell(l.Errors, l.FirstErr))
		}
		tw.Flush()
		if p := r.patches; p != nil && p.BacklogStart >= 0 && p.BacklogEnd >= 0 {
			// A batch (up to 512 messages) in flight counts as pending, so
			// only growth beyond two batches means falling behind.
			trend := "bounded: the projectors keep up"
			if p.BacklogEnd > p.BacklogStart+2*projectorBatch {
				trend = fmt.Sprintf("growing by %s/s: the projectors do NOT keep up with this rate", count(float64(p.BacklogEnd-p.BacklogStart)/p.Window.Seconds()))
			}
			fmt.Fprintf(w, "projector backlog during PATCH: %s messages at the window's start, %s at its end (%s)\n", count(float64(p.BacklogStart)), count(float64(p.BacklogEnd)), trend)
		}
		fmt.Fprintf(w, "(CPU: cores this process used, client and servers together; others: cores every other process on the host\n")
		fmt.Fprintf(w, " used meanwhile - with %d CPUs, anything but ~0 there means the figures above are depressed)\n", runtime.NumCPU())
	}

	if len(r.drains) > 0 {
		fmt.Fprintf(w, "\nBacklog after each phase (time from its end until caught up)\n\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\trelay forwarded all\tprojectors applied all\t\n", left("after", 12))
		for _, d := range r.drains {
			relay, proj := secs(d.Relay), secs(d.Projectors)
			if d.TimedOut {
				if d.Relay == 0 {
					relay = "> " + secs(cfg.settleLimit)
				}
				proj = "> " + secs(cfg.settleLimit)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", left(d.After, 12), relay, proj)
		}
		tw.Flush()
	}

	if l := r.lag; l != nil {
		fmt.Fprintf(w, "\nProjection lag: PATCH at %s commands/s over %d users, %v warm-up + %v; lag is from each PATCH's response\n", count(l.Rate), l.Users, min(cfg.warmup, time.Second), l.Window)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "commands\tcommands/s\tPATCH p50\tPATCH p99\tlate\tGETs/s\tCPU\tothers\terrors\t")
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", l.Commands, count(l.Achieved()),
			ms(benchkit.Percentile(l.PatchLat, 50)), ms(benchkit.Percentile(l.PatchLat, 99)), l.Late, count(l.PollRate()),
			cores(l.CPU.Self, l.Window), cores(l.CPU.Others, l.Window), errorCell(l.Errors+l.PollErrs, l.FirstErr))
		tw.Flush()
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		width := len("anonymous GET /v1/profiles/{username}, polled every 99ms")
		fmt.Fprintf(tw, "%s\tp50\tp90\tp99\tmax\tfirst poll\tnot seen\t\n", left("lag until", width))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", left("read model written (users projector progress)", width),
			ms(l.AppliedPercentile(50)), ms(l.AppliedPercentile(90)), ms(l.AppliedPercentile(99)), ms(l.AppliedPercentile(100)), "", l.NotApplied)
		if l.Poll > 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", left(fmt.Sprintf("anonymous GET /v1/profiles/{username}, polled every %v", l.Poll), width),
				ms(l.VisiblePercentile(50)), ms(l.VisiblePercentile(90)), ms(l.VisiblePercentile(99)), ms(l.VisiblePercentile(100)),
				pct(float64(l.FirstPoll), float64(len(l.Visible)+l.NotSeen)), l.NotSeen)
		}
		tw.Flush()
		fmt.Fprintf(w, "(late: commands sent more than one interval behind schedule; first poll: changes the first GET already showed;\n")
		fmt.Fprintf(w, " not seen: within %v, counted as %v; GETs come from their own connection pool, without a token)\n", l.Timeout, l.Timeout)
	}

	if len(r.logged) == 0 {
		fmt.Fprintf(w, "\nService log: no warnings or errors\n")
	} else {
		fmt.Fprintf(w, "\nService log: warnings and errors (count, first occurrence)\n\n")
		for i, l := range r.logged {
			if i == 8 {
				fmt.Fprintf(w, "  ... %d more kinds\n", len(r.logged)-i)
				break
			}
			line := l.First
			if len(line) > 200 {
				line = line[:200] + "..."
			}
			fmt.Fprintf(w, "  %6d  %s\n", l.Count, line)
		}
	}

	fmt.Fprintf(w, "\nTargets\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tgoal\tmeasured\tmet")
	for _, t := range targets(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.name, t.goal, t.measured, t.verdict)
	}
	tw.Flush()
}

type targetRow struct{ name, goal, measured, verdict string }

func targets(r *results) []targetRow {
	var rows []targetRow
	p, a := r.patches, r.appends

	row := targetRow{name: fmt.Sprintf("PATCH /v1/me throughput, %d clients", r.cfg.clients), goal: ">= " + count(targetPatchRate) + " commands/s"}
	if p != nil && p.Errors == 0 {
		row.measured = count(p.Rate()) + "/s"
		row.verdict = verdict(p.Rate() >= targetPatchRate)
	} else {
		row.measured, row.verdict = notMeasured(p != nil, "patch")
	}
	rows = append(rows, row)

	row = targetRow{name: "PATCH rate vs raw append rate", goal: fmt.Sprintf(">= %.0f%%", targetPatchVsAppend*100)}
	if p != nil && a != nil && p.Errors == 0 && a.Errors == 0 && a.Rate() > 0 {
		f := p.Rate() / a.Rate()
		row.measured = fmt.Sprintf("%.1f%% (%s vs %s/s)", f*100, count(p.Rate()), count(a.Rate()))
		row.verdict = verdict(f >= targetPatchVsAppend)
	} else {
		row.measured, row.verdict = notMeasured(p != nil && a != nil, "patch and append")
	}
	rows = append(rows, row)

	row = targetRow{name: fmt.Sprintf("projection lag p99 at %s commands/s", count(r.cfg.rate)), goal: "<= " + ms(targetLagP99)}
	if l := r.lag; l != nil && l.Commands > 0 && l.Errors == 0 {
		p99 := l.VisiblePercentile(99)
		if l.Poll == 0 {
			p99 = l.AppliedPercentile(99)
			row.name += " (read model; --poll=0)"
		}
		row.measured = ms(p99)
		row.verdict = verdict(p99 <= targetLagP99)
	} else {
		row.measured, row.verdict = notMeasured(l != nil, "lag")
	}
	rows = append(rows, row)
	return rows
}

func notMeasured(ran bool, phases string) (string, string) {
	if ran {
		return "-", "not measured (errors)"
	}
	return "-", "not measured (needs --run=" + strings.ReplaceAll(phases, " and ", ",") + ")"
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func errorCell(n int, first error) string {
	if n == 0 {
		return "0"
	}
	msg := fmt.Sprint(first)
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return fmt.Sprintf("%d (%s)", n, msg)
}

func pct(part, whole float64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*part/whole)
}

// left pads s to width so that it reads left-aligned in a right-aligned table.
func left(s string, width int) string {
	return s + strings.Repeat(" ", max(width-len(s), 0))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func us(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// cores is CPU time used over a window as a number of cores busy.
func cores(cpu, window time.Duration) string {
	if cpu < 0 || window <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", cpu.Seconds()/window.Seconds())
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// count formats a rate or count with thousands separators.
func count(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
