package eventlog

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/events"
)

// Follower receives what Follow reads, in log order.
type Follower interface {
	// Event is one event at its place in the log; decode reads its
	// payload (not its metadata; an error is events.ErrUndecodable). A
	// follower that already has the event need not pay for decoding it.
	Event(stream string, revision uint64, decode func() (events.Recorded, error))
	// Checkpoint: everything up to position has been delivered.
	Checkpoint(position uint64, at time.Time)
	// CaughtUp: the follower has seen the whole log as it stood.
	CaughtUp()
}

// Follow subscribes to $all after position from (0: from the start),
// filtered to event types with the given prefixes, and hands every event to
// f until ctx ends (nil) or the subscription drops (an error: the caller's
// supervisor resumes it from the follower's own position).
func Follow(ctx context.Context, client *esdb.Client, from uint64, typePrefixes []string, f Follower) error {
	var start esdb.AllPosition = esdb.Start{}
	if from > 0 {
		start = esdb.Position{Commit: from, Prepare: from}
	}
	// Unfiltered, and filtered here: a server-side filter reports progress
	// over the events it skips only every so many events, so a follower
	// whose last relevant event is older than the log's head could not
	// tell "behind" from "nothing for me since" (its staleness is measured
	// against the head). Skipped events cost no decoding.
	sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: start})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			if ctx.Err() != nil {
				return nil
			}
			if ev.SubscriptionDropped.Error != nil {
				return ev.SubscriptionDropped.Error
			}
			return errors.New("subscription dropped")
		case ev.CheckPointReached != nil:
			f.Checkpoint(ev.CheckPointReached.Commit, time.Time{})
		case ev.CaughtUp != nil:
			f.CaughtUp()
		case ev.EventAppeared != nil:
			e := ev.EventAppeared.Event
			if wanted(e.EventType, typePrefixes) {
				f.Event(e.StreamID, e.EventNumber, func() (events.Recorded, error) { return DecodePayload(e) })
			}
			f.Checkpoint(e.Position.Commit, e.CreatedDate)
		}
	}
}

// wanted says whether an event type has one of the prefixes (no prefixes:
// every type but the store's own, which start with "$").
func wanted(eventType string, prefixes []string) bool {
	if strings.HasPrefix(eventType, "$") {
		return false
	}
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return false
}
