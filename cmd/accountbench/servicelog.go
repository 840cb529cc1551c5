package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// logTally counts the service's warnings and errors by message, so that a
// benchmark does not quietly measure a service that is retrying or failing.
type logTally struct {
	mu     sync.Mutex
	counts map[string]int
	first  map[string]string // message -> its first record in full
}

func newLogTally() *logTally {
	return &logTally{counts: map[string]int{}, first: map[string]string{}}
}

func (t *logTally) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (t *logTally) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	key := r.Level.String() + " " + r.Message
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[key]++
	if _, ok := t.first[key]; !ok {
		t.first[key] = b.String()
	}
	return nil
}

func (t *logTally) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logTallyView{t: t, attrs: attrs}
}

func (t *logTally) WithGroup(string) slog.Handler { return t }

// logTallyView adds attributes to the records it passes to its tally.
type logTallyView struct {
	t     *logTally
	attrs []slog.Attr
}

func (v *logTallyView) Enabled(ctx context.Context, l slog.Level) bool { return v.t.Enabled(ctx, l) }

func (v *logTallyView) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(v.attrs...)
	return v.t.Handle(ctx, r)
}

func (v *logTallyView) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logTallyView{t: v.t, attrs: append(slices.Clip(v.attrs), attrs...)}
}

func (v *logTallyView) WithGroup(string) slog.Handler { return v }

// logLine is one kind of message with how often it was logged.
type logLine struct {
	Count int
	First string
}

// snapshot lists the messages, most frequent first.
func (t *logTally) snapshot() []logLine {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []logLine
	for k, n := range t.counts {
		out = append(out, logLine{Count: n, First: t.first[k]})
	}
	slices.SortFunc(out, func(a, b logLine) int { return b.Count - a.Count })
	return out
}
