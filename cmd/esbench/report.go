package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets the event store is held to.
const (
	targetJetStreamFactor = 3.0                  // esdb appends/s at targetWriters vs JetStream
	targetWriters         = 256                  // concurrency level of the throughput target
	targetP99Writers      = 16                   // concurrency level of the latency target
	targetP99             = 5 * time.Millisecond // p99 append latency
	targetCatchUp         = 200_000.0            // $all catch-up events/s
)

func report(w io.Writer, r *results) {
	cfg := r.cfg
	fmt.Fprintf(w, "\nesbench: %d-byte events, %v warm-up + %v measured per level\n", cfg.payload, cfg.warmup, cfg.duration)
	fmt.Fprintf(w, "host: %s\n", hostInfo())
	if r.loadBefore != "" {
		fmt.Fprintf(w, "load average (1/5/15 min): %s at start, %s at end; above the CPU count, runnable work waits for a CPU\n", r.loadBefore, r.loadAfter)
	}
	fmt.Fprintf(w, "data: %s\n", r.dataDir)
	fmt.Fprintf(w, "disk: one writer doing 200-byte write+fsync: %.0f/s, p50 %s, p99 %s\n", r.fsync.Rate, ms(r.fsync.P50), ms(r.fsync.P99))

	if len(r.appends) > 0 {
		fmt.Fprintf(w, "\nDurable appends: one %d-byte event per append, each writer its own stream, expected revision any\n\n", cfg.payload)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		width := len("system")
		for _, s := range r.appends {
			width = max(width, len(s.Name))
		}
		fmt.Fprintf(tw, "%s\twriters\tappends/s\tp50\tp99\tmax\tCPU/append\terrors\t\n", left("system", width))
		for _, s := range r.appends {
			for _, l := range s.Levels {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", left(s.Name, width), l.Writers, count(l.Rate()),
					ms(l.Percentile(50)), ms(l.Percentile(99)), ms(l.Percentile(100)), us(l.CPUPerOp()), errorCell(l))
			}
			if s.Err != nil {
				fmt.Fprintf(tw, "%s\t  failed: %v\n", left(s.Name, width), s.Err)
			}
		}
		tw.Flush()
		fmt.Fprintln(w, "\nCPU/append: CPU time of this process per append; client and server both run here.")
	}

	if r.catchUp != nil {
		fmt.Fprintf(w, "\n$all catch-up read: %s events\n\n", count(float64(cfg.events)))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		rows := append([]readResult{r.catchUp.Preload}, r.catchUp.Reads...)
		width := len("operation")
		for _, rr := range rows {
			width = max(width, len(rr.Name))
		}
		fmt.Fprintf(tw, "%s\tevents\tseconds\tevents/s\tCPU/event\t\n", left("operation", width))
		for _, rr := range rows {
			if rr.Name == "" {
				continue
			}
			line := fmt.Sprintf("%s\t%d\t%.2f\t%s\t%s\t", left(rr.Name, width), rr.Events, rr.Elapsed.Seconds(), count(rr.Rate()), usFrac(rr.CPUPerEvent()))
			if rr.Err != nil {
				line += " error: " + rr.Err.Error()
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
	if r.catchUpErr != nil {
		fmt.Fprintf(w, "catch-up failed: %v\n", r.catchUpErr)
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

	row := targetRow{
		name: fmt.Sprintf("throughput at %d writers vs JetStream", targetWriters),
		goal: fmt.Sprintf(">= %.1fx", targetJetStreamFactor),
	}
	es, js := r.level(phaseESDB, targetWriters), r.level(phaseJetStream, targetWriters)
	if es != nil && js != nil && js.Rate() > 0 && es.Errors == 0 && js.Errors == 0 {
		f := es.Rate() / js.Rate()
		row.measured = fmt.Sprintf("%.2fx (%s vs %s/s)", f, count(es.Rate()), count(js.Rate()))
		row.verdict = verdict(f >= targetJetStreamFactor)
	} else {
		row.measured, row.verdict = "-", "not measured (needs esdb and jetstream at 256 writers)"
	}
	rows = append(rows, row)

	row = targetRow{
		name: fmt.Sprintf("p99 append latency at %d writers", targetP99Writers),
		goal: "<= " + ms(targetP99),
	}
	if l := r.level(phaseESDB, targetP99Writers); l != nil && l.Ops > 0 && l.Errors == 0 {
		row.measured = ms(l.Percentile(99))
		row.verdict = verdict(l.Percentile(99) <= targetP99)
	} else {
		row.measured, row.verdict = "-", "not measured (needs esdb at 16 writers)"
	}
	rows = append(rows, row)

	row = targetRow{name: "$all catch-up (SubscribeToAll)", goal: ">= " + count(targetCatchUp) + "/s"}
	row.measured, row.verdict = "-", "not measured (needs catchup)"
	if r.catchUp != nil {
		for _, rr := range r.catchUp.Reads {
			if strings.HasPrefix(rr.Name, "SubscribeToAll") && rr.Err == nil {
				row.measured = count(rr.Rate()) + "/s"
				row.verdict = verdict(rr.Rate() >= targetCatchUp)
			}
		}
	}
	rows = append(rows, row)
	return rows
}

// level finds the result of phase at the given writer count.
func (r *results) level(phase string, writers int) *levelResult {
	s := r.series(phase)
	if s == nil {
		return nil
	}
	for i := range s.Levels {
		if s.Levels[i].Writers == writers {
			return &s.Levels[i]
		}
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func errorCell(l levelResult) string {
	if l.Errors == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%v)", l.Errors, l.FirstErr)
}

// us formats a duration in microseconds.
func us(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// usFrac formats a short duration in microseconds with one decimal.
func usFrac(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// left pads s to width so that it reads left-aligned in a right-aligned table.
func left(s string, width int) string {
	return s + strings.Repeat(" ", max(width-len(s), 0))
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// count formats a rate or count with thousands separators.
func count(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
