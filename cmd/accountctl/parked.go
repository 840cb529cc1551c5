package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/projections"
)

type parkedDoc struct {
	ID        string    `bson:"_id" json:"id"`
	Projector string    `bson:"projector" json:"projector"`
	Error     string    `bson:"error" json:"error"`
	ParkedAt  time.Time `bson:"parked_at" json:"parked_at"`
	EventID   string    `bson:"event_id,omitempty" json:"event_id,omitempty"`
	Stream    string    `bson:"stream,omitempty" json:"stream,omitempty"`
	Type      string    `bson:"type,omitempty" json:"type,omitempty"`
	Position  int64     `bson:"position,omitempty" json:"position,omitempty"`
	Data      string    `bson:"data,omitempty" json:"data,omitempty"`
}

func (e *env) parkedCmd() *cobra.Command {
	var only string
	parent := &cobra.Command{
		Use:   "parked",
		Short: "Events projectors could not use and set aside: list, retry or drop them",
	}
	parent.PersistentFlags().StringVar(&only, "projector", "", "only this read model's parked events")
	load := func(p *platform.Platform, ids []string) ([]parkedDoc, error) {
		filter := bson.M{}
		cur, err := p.DB.Collection(projections.ParkedCollection).Find(e.ctx, filter)
		if err != nil {
			return nil, err
		}
		var all, out []parkedDoc
		if err := cur.All(e.ctx, &all); err != nil {
			return nil, err
		}
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for _, d := range all {
			if (only == "" || d.Projector == only) && (len(ids) == 0 || want[d.ID]) {
				out = append(out, d)
			}
		}
		return out, nil
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List parked events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := e.dial(platform.NeedMongo)
			if err != nil {
				return err
			}
			defer p.Close()
			docs, err := load(p, nil)
			if err != nil {
				return err
			}
			if e.json {
				if docs == nil {
					docs = []parkedDoc{}
				}
				return e.printJSON(docs)
			}
			if len(docs) == 0 {
				fmt.Fprintln(e.stdout, "nothing is parked")
				return nil
			}
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPARKED AT\tPOSITION\tSTREAM\tTYPE\tERROR")
			for _, d := range docs {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.ParkedAt.UTC().Format(time.RFC3339), d.Position, dash(d.Stream), dash(d.Type), d.Error)
			}
			return w.Flush()
		},
	}
	retry := &cobra.Command{
		Use:   "retry [ID...]",
		Short: "Put parked events back: apply them with today's code, and unpark those that apply",
		Long: "Each event is decoded and reduced again and written under the usual version guard: a document that has\n" +
			"moved past the event keeps its newer state (rebuild the read model to replay everything in order).",
		RunE: func(cmd *cobra.Command, ids []string) error {
			p, err := e.dial(platform.NeedMongo)
			if err != nil {
				return err
			}
			defer p.Close()
			docs, err := load(p, ids)
			if err != nil {
				return err
			}
			keys, err := e.keys(p)
			if err != nil {
				return err
			}
			byName := map[string]projections.Projector{}
			for _, pr := range projections.Projectors() {
				byName[pr.Name] = pr
			}
			applied, failed := 0, 0
			for _, d := range docs {
				proj, ok := byName[d.Projector]
				if !ok || d.EventID == "" {
					fmt.Fprintf(e.stderr, "%s: cannot be retried (unknown read model or an unreadable message)\n", d.ID)
					failed++
					continue
				}
				live, err := projector.LiveGeneration(e.ctx, p.DB, proj.Name)
				if err != nil {
					return err
				}
				x := &projector.Executor{Projector: proj, DB: p.DB, Suffix: live.Suffix(), Stream: app.FeedStream, Keys: keys}
				env := events.Envelope{ID: d.EventID, Stream: d.Stream, Type: d.Type, Position: uint64(d.Position), Data: json.RawMessage(d.Data)}
				if err := x.Retry(e.ctx, env); err != nil {
					fmt.Fprintf(e.stderr, "%s: still cannot be applied: %v\n", d.ID, err)
					failed++
					continue
				}
				if _, err := p.DB.Collection(projections.ParkedCollection).DeleteOne(e.ctx, bson.M{"_id": d.ID}); err != nil {
					return err
				}
				applied++
			}
			fmt.Fprintf(e.stdout, "%d applied and unparked, %d still parked\n", applied, failed)
			if failed > 0 {
				return exitError{1, ""}
			}
			return nil
		},
	}
	drop := &cobra.Command{
		Use:   "drop ID...|--all",
		Short: "Forget parked events",
		RunE: func(cmd *cobra.Command, ids []string) error {
			all, _ := cmd.Flags().GetBool("all")
			if len(ids) == 0 && !all {
				return usageError{fmt.Errorf("name the parked events to drop, or --all")}
			}
			p, err := e.dial(platform.NeedMongo)
			if err != nil {
				return err
			}
			defer p.Close()
			docs, err := load(p, ids)
			if err != nil {
				return err
			}
			for _, d := range docs {
				if _, err := p.DB.Collection(projections.ParkedCollection).DeleteOne(e.ctx, bson.M{"_id": d.ID}); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stdout, "%d dropped\n", len(docs))
			return nil
		},
	}
	drop.Flags().Bool("all", false, "drop every parked event (of --projector, if given)")
	parent.AddCommand(list, retry, drop)
	return parent
}
