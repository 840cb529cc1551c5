package eventstore_test

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/internal/eventstore"
)

// snapshot is everything a client can see of a store.
type snapshot struct {
	all     []*esdb.ResolvedEvent
	streams map[string][]*esdb.ResolvedEvent
	errs    map[string]esdb.ErrorCode
	meta    map[string]esdb.StreamMetadata
}

func takeSnapshot(t *testing.T, ctx context.Context, c *esdb.Client, names []string) snapshot {
	t.Helper()
	s := snapshot{all: allEvents(t, ctx, c), streams: map[string][]*esdb.ResolvedEvent{}, errs: map[string]esdb.ErrorCode{}, meta: map[string]esdb.StreamMetadata{}}
	for _, name := range names {
		events, err := readStream(t, ctx, c, name, esdb.ReadStreamOptions{}, 10_000)
		if code, ok := errorCode(err); ok {
			s.errs[name] = code
		} else if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		s.streams[name] = events
		if m, err := c.GetStreamMetadata(ctx, name, esdb.ReadStreamOptions{}); err == nil {
			s.meta[name] = *m
		}
	}
	return s
}

func sameEvents(t *testing.T, what string, got, want []*esdb.ResolvedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events after restart, %d before", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i].Event, want[i].Event
		if g.EventID != w.EventID || g.StreamID != w.StreamID || g.EventNumber != w.EventNumber || g.Position != w.Position ||
			g.EventType != w.EventType || g.ContentType != w.ContentType || !g.CreatedDate.Equal(w.CreatedDate) ||
			!bytes.Equal(g.Data, w.Data) || !bytes.Equal(g.UserMetadata, w.UserMetadata) {
			t.Fatalf("%s[%d] after restart %+v, before %+v", what, i, g, w)
		}
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &testClock{}
	cfg := eventstore.Config{DataDir: dir, Now: clock.Now}
	srv := startServerWith(t, cfg)
	c, ctx := newClient(t, srv), testContext(t)

	plain, capped, deleted, tombstoned, big := streamName(t), streamName(t), streamName(t), streamName(t), streamName(t)
	names := []string{plain, capped, deleted, tombstoned, big, streamName(t)}
	batch := numbered("plain", 3)
	original := mustAppend(t, ctx, c, plain, esdb.NoStream{}, batch...)
	mustAppend(t, ctx, c, capped, esdb.NoStream{}, numbered("capped", 5)...)
	setMeta(t, c, capped, func(m *esdb.StreamMetadata) { m.SetMaxCount(2); m.AddCustomProperty("owner", "ops") })
	mustAppend(t, ctx, c, deleted, esdb.NoStream{}, numbered("deleted", 2)...)
	if _, err := c.DeleteStream(ctx, deleted, esdb.DeleteStreamOptions{}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, ctx, c, deleted, esdb.NoStream{}, jsonEvent("recreated", `{}`))
	mustAppend(t, ctx, c, tombstoned, esdb.NoStream{}, numbered("gone", 2)...)
	if _, err := c.TombstoneStream(ctx, tombstoned, esdb.TombstoneStreamOptions{}); err != nil {
		t.Fatal(err)
	}
	appendMany(t, ctx, c, big, numbered("big", 700))
	clock.Advance(3 * 24 * 60 * 60 * 1e9) // created stamps differ between writes

	// A live subscription is ended, not left hanging, by Close.
	sub := subscribeAll(t, ctx, c, esdb.SubscribeToAllOptions{From: esdb.End{}})
	sub.untilCaughtUp(t)

	before := takeSnapshot(t, ctx, c, names)
	if len(before.all) < 700 || before.errs[tombstoned] != esdb.ErrorCodeStreamDeleted || before.errs[names[5]] != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("bad setup: %d events, errors %v", len(before.all), before.errs)
	}
	for restart := 1; restart <= 2; restart++ {
		if err := srv.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if restart == 1 {
			if _, err := sub.dropped(t); err == nil {
				t.Errorf("subscription ended without error when the server closed")
			}
		}
		c.Close()
		srv = startServerWith(t, cfg)
		c = newClient(t, srv)
		after := takeSnapshot(t, ctx, c, names)
		sameEvents(t, "$all", after.all, before.all)
		for _, name := range names {
			sameEvents(t, name, after.streams[name], before.streams[name])
		}
		if !reflect.DeepEqual(after.errs, before.errs) {
			t.Errorf("read errors after restart %v, before %v", after.errs, before.errs)
		}
		if !reflect.DeepEqual(after.meta, before.meta) {
			t.Errorf("metadata after restart %+v, before %+v", after.meta, before.meta)
		}
		// Idempotency survives: the retry gets the original result.
		retry := mustAppend(t, ctx, c, plain, esdb.NoStream{}, batch...)
		if *retry != *original {
			t.Errorf("retry after restart %+v, original %+v", *retry, *original)
		}
		// Writes carry on where they left off.
		next := mustAppend(t, ctx, c, plain, esdb.Revision(uint64(2+restart-1)), jsonEvent("after-restart", `{}`))
		if next.NextExpectedVersion != uint64(2+restart) || next.CommitPosition <= before.all[len(before.all)-1].Event.Position.Commit {
			t.Errorf("append after restart %+v, last position before %+v", next, before.all[len(before.all)-1].Event.Position)
		}
		_, err := c.AppendToStream(ctx, tombstoned, esdb.AppendToStreamOptions{}, jsonEvent("e", `{}`))
		wantCode(t, err, esdb.ErrorCodeStreamDeleted)
		before = takeSnapshot(t, ctx, c, names)
	}
}
