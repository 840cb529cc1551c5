package eventlog

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// Head is the $all position and time of the newest event that is not a
// system event (0 when there is none), the mark lag is measured against.
func Head(ctx context.Context, client *esdb.Client) (uint64, time.Time, error) {
	rs, err := client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 64)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return 0, time.Time{}, nil
		}
		if err != nil {
			return 0, time.Time{}, err
		}
		if e := ev.Event; e != nil && !strings.HasPrefix(e.EventType, "$") {
			return e.Position.Commit, e.CreatedDate, nil
		}
	}
}

// CountAfter counts the events that are not system events after position
// from, up to limit: how far behind a reader at from is.
func CountAfter(ctx context.Context, client *esdb.Client, from uint64, limit uint64) (uint64, error) {
	var start esdb.AllPosition = esdb.Start{}
	if from > 0 {
		start = esdb.Position{Commit: from, Prepare: from}
	}
	rs, err := client.ReadAll(ctx, esdb.ReadAllOptions{From: start}, limit+1)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	var n uint64
	for n < limit {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if e := ev.Event; e != nil && e.Position.Commit > from && !strings.HasPrefix(e.EventType, "$") {
			n++
		}
	}
	return n, nil
}
