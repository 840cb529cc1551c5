package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/projections"
)

// pick is the projectors an argument names ("all" for every one).
func pick(arg string) ([]projections.Projector, error) {
	all := projections.Projectors()
	if arg == "all" {
		return all, nil
	}
	var names []string
	for _, p := range all {
		if p.Name == arg {
			return []projections.Projector{p}, nil
		}
		names = append(names, p.Name)
	}
	return nil, usageError{fmt.Errorf("no read model %q (have %s, or all)", arg, strings.Join(names, ", "))}
}

var scratchName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

func (e *env) rebuildCmd() *cobra.Command {
	var until, into string
	cmd := &cobra.Command{
		Use:   "rebuild PROJECTION|all",
		Short: "Rebuild read models from the log into fresh collections and swap them in, while the service serves the old ones",
		Long: "Builds a new generation of each read model from the whole log through its own consumer, and swaps it in\n" +
			"only once it has caught up; a running service switches to it within a second. Interrupted (Ctrl-C), it\n" +
			"leaves the live read models as they were. With --until TIME --into NAME it builds a copy of the read model\n" +
			"as it was at TIME into scratch collections named <collection>__NAME, never swapped in.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := pick(args[0])
			if err != nil {
				return err
			}
			var at time.Time
			switch {
			case (until == "") != (into == ""):
				return usageError{errors.New("--until and --into go together")}
			case until != "":
				if at, err = parseTime("until", until); err != nil {
					return err
				}
				if !scratchName.MatchString(into) {
					return usageError{fmt.Errorf("--into %q: want a lower-case name like before_incident", into)}
				}
			}
			p, err := e.dial(platform.NeedEventStore | platform.NeedNATS | platform.NeedMongo)
			if err != nil {
				return err
			}
			defer p.Close()
			keys, err := e.keys(p)
			if err != nil {
				return err
			}
			for _, proj := range ps {
				b := e.build(p, keys, proj)
				if into != "" {
					b.Suffix, b.Until = "__"+into, at
					if err := b.Run(e.ctx); err != nil {
						return e.interrupted(err)
					}
					fmt.Fprintf(e.stderr, "%s: copy as of %s in %s\n", proj.Name, at.UTC().Format(time.RFC3339), strings.Join(suffixed(proj, b.Suffix), ", "))
					continue
				}
				// One rebuild of a read model at a time, here or in a
				// replica of the service: the same lease.
				var g projector.Generation
				lease := &coord.Lease{Coord: coord.New(p.JetStream, coord.Options{Replicas: app.CoordReplicas(p.NATS)}), Name: app.RebuildLease(proj.Name), Holder: ctlHolder()}
				err := lease.TryRun(e.ctx, func(ctx context.Context, _ uint64) error {
					var err error
					g, err = projector.Rebuild(ctx, b, max(proj.Version, 1))
					return err
				})
				if errors.Is(err, coord.ErrHeld) {
					holder, _ := lease.Coord.Holder(e.ctx, lease.Name)
					return exitError{1, fmt.Sprintf("a rebuild of %s is already running (%s): try again when it is done", proj.Name, holder)}
				}
				if err != nil {
					return e.interrupted(err)
				}
				fmt.Fprintf(e.stderr, "%s: generation %d swapped in (%s)\n", proj.Name, g.Number, strings.Join(suffixed(proj, g.Suffix()), ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&until, "until", "", "build the read model as it was at this RFC 3339 time (with --into)")
	cmd.Flags().StringVar(&into, "into", "", "name of the scratch copy (with --until)")
	return cmd
}

// ctlHolder names this accountctl run as a lease holder.
func ctlHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("accountctl-%s-%d", host, os.Getpid())
}

func (e *env) interrupted(err error) error {
	if errors.Is(err, context.Canceled) || e.ctx.Err() != nil {
		return exitError{130, "interrupted: the live read models are as they were"}
	}
	return err
}

func suffixed(p projections.Projector, suffix string) []string {
	out := make([]string, len(p.Collections))
	for i, c := range p.Collections {
		out[i] = c + suffix
	}
	return out
}

// build describes a build of proj, reporting progress on stderr: a bar on
// a terminal, a line a second otherwise.
func (e *env) build(p *platform.Platform, keys *keystore.Store, proj projections.Projector) projector.Build {
	b := projector.Build{Projector: proj, JetStream: p.JetStream, Stream: app.FeedStream, Subject: app.FeedSubject, DB: p.DB, Prepare: p.IndexIDs, Keys: keys}
	if e.terminal(e.stderr) {
		var bar *progressbar.ProgressBar
		b.Progress = func(done, total uint64) {
			if bar == nil {
				bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(proj.Name),
					progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionOnCompletion(func() { fmt.Fprintln(e.stderr) }))
			}
			bar.ChangeMax64(int64(total))
			_ = bar.Set64(int64(done))
		}
		return b
	}
	var last time.Time
	start := time.Now()
	b.Progress = func(done, total uint64) {
		if time.Since(last) < time.Second && done < total {
			return
		}
		last = time.Now()
		rate := float64(done) / max(time.Since(start).Seconds(), 0.001)
		left := "-"
		if rate > 0 && total > done {
			left = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Fprintf(e.stderr, "%s: %d/%d events, %.0f/s, %s left\n", proj.Name, done, total, rate, left)
	}
	return b
}

func (e *env) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify PROJECTION|all",
		Short: "Rebuild read models into scratch collections and report every document that differs from the live one",
		Long: "Exit code 1 when any document differs. Documents written while verify runs can show up as differences:\n" +
			"verify again to tell a change in flight from a wrong document.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := pick(args[0])
			if err != nil {
				return err
			}
			p, err := e.dial(platform.NeedEventStore | platform.NeedNATS | platform.NeedMongo)
			if err != nil {
				return err
			}
			defer p.Close()
			keys, err := e.keys(p)
			if err != nil {
				return err
			}
			var diffs []difference
			for _, proj := range ps {
				b := e.build(p, keys, proj)
				b.Suffix = "__verify_" + randomName()
				b.Complete = true // compared document by document: nothing may be left out
				if err := b.Run(e.ctx); err != nil {
					return e.interrupted(err)
				}
				live, err := projector.LiveGeneration(e.ctx, p.DB, proj.Name)
				if err != nil {
					return err
				}
				for _, c := range proj.Collections {
					d, err := compare(e.ctx, p, c, c+live.Suffix(), c+b.Suffix)
					if err != nil {
						return err
					}
					diffs = append(diffs, d...)
				}
				if err := b.Drop(context.WithoutCancel(e.ctx)); err != nil {
					return err
				}
			}
			if err := e.printDiffs(diffs); err != nil {
				return err
			}
			if len(diffs) > 0 {
				return exitError{1, fmt.Sprintf("%d documents differ from a rebuild from the log", len(diffs))}
			}
			if !e.json {
				fmt.Fprintln(e.stdout, "every document matches a rebuild from the log")
			}
			return nil
		},
	}
}

type difference struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Live       any    `json:"live"`    // null: missing from the live read model
	Rebuilt    any    `json:"rebuilt"` // null: not in a rebuild from the log
}

// compare reads both collections by _id and lists the documents that differ.
func compare(ctx context.Context, p *platform.Platform, name, live, rebuilt string) ([]difference, error) {
	read := func(coll string) (map[string]bson.M, error) {
		cur, err := p.DB.Collection(coll).Find(ctx, bson.M{})
		if err != nil {
			return nil, err
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			return nil, err
		}
		out := map[string]bson.M{}
		for _, d := range docs {
			out[fmt.Sprint(d["_id"])] = d
		}
		return out, nil
	}
	a, err := read(live)
	if err != nil {
		return nil, err
	}
	b, err := read(rebuilt)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for id := range a {
		ids[id] = true
	}
	for id := range b {
		ids[id] = true
	}
	var out []difference
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if !yield(id) {
				return
			}
		}
	}) {
		x, y := a[id], b[id]
		if reflect.DeepEqual(normal(x), normal(y)) {
			continue
		}
		d := difference{Collection: name, ID: id}
		if x != nil {
			d.Live = x
		}
		if y != nil {
			d.Rebuilt = y
		}
		out = append(out, d)
	}
	return out, nil
}

// normal is a document as compared: plain maps and values, whatever the
// order of its fields, with empty sub-documents (what removing a map's
// last entry leaves) the same as absent ones, as they are to queries.
func normal(d bson.M) any {
	if d == nil {
		return nil
	}
	raw, _ := bson.MarshalExtJSON(d, false, false)
	var v any
	_ = json.Unmarshal(raw, &v)
	return dropEmpty(v)
}

func dropEmpty(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, sub := range m {
		if sm, ok := dropEmpty(sub).(map[string]any); ok && len(sm) == 0 {
			delete(m, k)
		}
	}
	return m
}

func (e *env) printDiffs(diffs []difference) error {
	if e.json {
		if diffs == nil {
			diffs = []difference{}
		}
		return e.printJSON(diffs)
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].Collection+diffs[i].ID < diffs[j].Collection+diffs[j].ID })
	for _, d := range diffs {
		fmt.Fprintf(e.stdout, "%s/%s differs:\n  live:    %s\n  rebuilt: %s\n", d.Collection, d.ID, ext(d.Live), ext(d.Rebuilt))
	}
	return nil
}

func ext(v any) string {
	if v == nil {
		return "(missing)"
	}
	raw, _ := bson.MarshalExtJSON(v, false, false)
	return string(raw)
}

func randomName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
