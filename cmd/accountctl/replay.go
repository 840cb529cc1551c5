package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/spf13/cobra"

	"github.com/accountd/accountd/internal/platform"
)

// replayFilter selects events.
type replayFilter struct {
	from, to                 uint64
	streamPrefix, typePrefix string
	since, until             time.Time
}

func (f replayFilter) match(e *esdb.RecordedEvent, at time.Time) bool {
	switch {
	case strings.HasPrefix(e.EventType, "$"):
		return false // system events
	case f.to > 0 && e.Position.Commit > f.to:
		return false
	case f.streamPrefix != "" && !strings.HasPrefix(e.StreamID, f.streamPrefix):
		return false
	case f.typePrefix != "" && !strings.HasPrefix(e.EventType, f.typePrefix):
		return false
	case !f.since.IsZero() && at.Before(f.since):
		return false
	case !f.until.IsZero() && at.After(f.until):
		return false
	}
	return true
}

func (e *env) replayCmd() *cobra.Command {
	var from, to, since, until string
	var f replayFilter
	var follow bool
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Print events of the log as JSON lines, for piping into other tools",
		Long: "Every event (or those the filters select) as one JSON object per line: position, stream, revision, type,\n" +
			"time, metadata and payload, oldest first. --follow keeps printing events as they are written.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if from != "" {
				if f.from, err = parsePosition("from", from); err != nil {
					return err
				}
			}
			if to != "" {
				if f.to, err = parsePosition("to", to); err != nil {
					return err
				}
			}
			if since != "" {
				if f.since, err = parseTime("since", since); err != nil {
					return err
				}
			}
			if until != "" {
				if f.until, err = parseTime("until", until); err != nil {
					return err
				}
			}
			p, err := e.dial(platform.NeedEventStore)
			if err != nil {
				return err
			}
			defer p.Close()
			return replay(e, p.ESDB, f, follow, e.stdout)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the first position to print (inclusive)")
	cmd.Flags().StringVar(&to, "to", "", "the last position to print (inclusive)")
	cmd.Flags().StringVar(&f.streamPrefix, "stream", "", "only streams starting with this, e.g. user- or tokens-<id>")
	cmd.Flags().StringVar(&f.typePrefix, "type", "", "only event types starting with this, e.g. token.")
	cmd.Flags().StringVar(&since, "since", "", "only events written at or after this RFC 3339 time")
	cmd.Flags().StringVar(&until, "until", "", "only events written at or before this RFC 3339 time")
	cmd.Flags().BoolVar(&follow, "follow", false, "after the log's end, keep printing new events until interrupted")
	return cmd
}

// replay reads $all in pages and writes the lines by hand: payloads and
// metadata are JSON already and are copied, not decoded and encoded again.
func replay(e *env, client *esdb.Client, f replayFilter, follow bool, out io.Writer) error {
	w := bufio.NewWriterSize(out, 1<<20)
	defer w.Flush()
	var line []byte
	emit := func(ev *esdb.RecordedEvent) error {
		meta := ev.UserMetadata
		if len(meta) == 0 || meta[0] != '{' || !json.Valid(meta) {
			meta = []byte("null")
		}
		at := metadataTime(meta, ev.CreatedDate)
		if !f.match(ev, at) {
			return nil
		}
		line = line[:0]
		line = append(line, `{"position":`...)
		line = strconv.AppendUint(line, ev.Position.Commit, 10)
		line = append(line, `,"stream":`...)
		line = strconv.AppendQuote(line, ev.StreamID)
		line = append(line, `,"revision":`...)
		line = strconv.AppendUint(line, ev.EventNumber, 10)
		line = append(line, `,"type":`...)
		line = strconv.AppendQuote(line, ev.EventType)
		line = append(line, `,"time":"`...)
		line = at.UTC().AppendFormat(line, time.RFC3339Nano)
		line = append(line, `","metadata":`...)
		line = append(line, meta...)
		line = append(line, `,"payload":`...)
		if json.Valid(ev.Data) {
			line = append(line, ev.Data...)
		} else {
			line = strconv.AppendQuote(line, string(ev.Data))
		}
		line = append(line, "}\n"...)
		_, err := w.Write(line)
		return err
	}
	var start esdb.AllPosition = esdb.Start{}
	if f.from > 0 {
		start = esdb.Position{Commit: f.from, Prepare: f.from}
	}
	last := uint64(0)
	for {
		rs, err := e.readAll(client, start)
		if err != nil {
			return err
		}
		n := 0
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return err
			}
			r := ev.Event
			if r == nil || (n == 0 && last > 0 && r.Position.Commit <= last) {
				continue // a page starts with the event the last one ended on
			}
			n++
			last = r.Position.Commit
			if f.to > 0 && last > f.to {
				rs.Close()
				return nil
			}
			if err := emit(r); err != nil {
				rs.Close()
				return err
			}
		}
		rs.Close()
		if n == 0 {
			break
		}
		start = esdb.Position{Commit: last, Prepare: last}
	}
	if !follow {
		return nil
	}
	if err := w.Flush(); err != nil {
		return err
	}
	var from esdb.AllPosition = esdb.Start{}
	if last > 0 {
		from = esdb.Position{Commit: last, Prepare: last}
	}
	sub, err := client.SubscribeToAll(e.ctx, esdb.SubscribeToAllOptions{From: from, Filter: esdb.ExcludeSystemEventsFilter()})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		ev := sub.Recv()
		if ev.SubscriptionDropped != nil {
			if e.ctx.Err() != nil {
				return nil
			}
			return ev.SubscriptionDropped.Error
		}
		if ev.EventAppeared == nil {
			continue
		}
		r := ev.EventAppeared.Event
		if f.to > 0 && r.Position.Commit > f.to {
			return nil
		}
		if err := emit(r); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// pageSize is how many events one read asks for.
const pageSize = 100_000

func (e *env) readAll(client *esdb.Client, from esdb.AllPosition) (*esdb.ReadStream, error) {
	return client.ReadAll(e.ctx, esdb.ReadAllOptions{From: from}, pageSize)
}

// metadataTime is the event's time from its metadata, else when it was
// stored.
func metadataTime(meta []byte, created time.Time) time.Time {
	// Only the time is needed, and the service writes it as "time":"...":
	// finding it is much cheaper than decoding the metadata.
	if i := bytes.Index(meta, []byte(`"time":"`)); i >= 0 {
		rest := meta[i+8:]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
				return t
			}
		}
	}
	return created
}
