package eventstore_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

func TestSoftDelete(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	meta := esdb.StreamMetadata{}
	meta.SetMaxCount(10)
	meta.AddCustomProperty("owner", "billing")
	if _, err := c.SetStreamMetadata(ctx, stream, esdb.AppendToStreamOptions{}, meta); err != nil {
		t.Fatal(err)
	}
	old := numbered("old", 3)
	appended := mustAppend(t, ctx, c, stream, esdb.NoStream{}, old...)

	del, err := c.DeleteStream(ctx, stream, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(2)})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if del.Position.Commit == 0 || del.Position.Commit != del.Position.Prepare || del.Position.Commit <= appended.CommitPosition {
		t.Errorf("delete position %+v, last append at %d", del.Position, appended.CommitPosition)
	}
	for _, dir := range []esdb.Direction{esdb.Forwards, esdb.Backwards} {
		_, err := readStream(t, ctx, c, stream, esdb.ReadStreamOptions{Direction: dir, From: esdb.End{}}, 10)
		wantCode(t, err, esdb.ErrorCodeResourceNotFound)
	}

	// The delete is a $metadata event in $$stream that keeps other settings.
	got, err := c.GetStreamMetadata(ctx, stream, esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatalf("metadata after delete: %v", err)
	}
	// The client decodes JSON numbers as float64: MaxInt64 comes back as 2^63.
	if tb := got.TruncateBefore(); tb == nil || *tb < math.MaxInt64 {
		t.Errorf("$tb after delete %v, want %d", tb, int64(math.MaxInt64))
	}
	if mc := got.MaxCount(); mc == nil || *mc != 10 || got.CustomProperty("owner") != "billing" {
		t.Errorf("delete lost other metadata: %+v", got)
	}
	all := allEvents(t, ctx, c)
	lastAll := all[len(all)-1].Event
	if lastAll.StreamID != "$$"+stream || lastAll.EventType != "$metadata" || lastAll.Position != del.Position {
		t.Errorf("last $all event %s %s at %+v, want the delete's $metadata at %+v", lastAll.StreamID, lastAll.EventType, lastAll.Position, del.Position)
	}
	var tb struct {
		TB json.Number `json:"$tb"`
	}
	if err := json.Unmarshal(lastAll.Data, &tb); err != nil || tb.TB.String() != fmt.Sprint(int64(math.MaxInt64)) {
		t.Errorf("delete metadata %s, want $tb %d", lastAll.Data, int64(math.MaxInt64))
	}
	// The old events stay in $all (until a scavenge, which we never run).
	inAll := map[[16]byte]bool{}
	for _, e := range all {
		inAll[e.Event.EventID] = true
	}
	for _, e := range old {
		if !inAll[e.EventID] {
			t.Errorf("old event %s gone from $all", e.EventID)
		}
	}

	// Writing again recreates the stream; revisions continue, old events
	// stay hidden.
	recreated := mustAppend(t, ctx, c, stream, esdb.NoStream{}, jsonEvent("new", `{}`))
	if recreated.NextExpectedVersion != 3 || recreated.CommitPosition <= del.Position.Commit {
		t.Errorf("recreating append: %+v, want revision 3 after position %d", recreated, del.Position.Commit)
	}
	mustAppend(t, ctx, c, stream, esdb.Revision(3), jsonEvent("new", `{}`))
	reads := []struct {
		name string
		opts esdb.ReadStreamOptions
		want []uint64
	}{
		{"forwards", esdb.ReadStreamOptions{}, []uint64{3, 4}},
		{"forwards from a hidden revision", esdb.ReadStreamOptions{From: esdb.Revision(1)}, []uint64{3, 4}},
		{"backwards", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, []uint64{4, 3}},
		{"backwards from a hidden revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(2)}, nil},
	}
	for _, r := range reads {
		events := mustReadStream(t, ctx, c, stream, r.opts, 100)
		if !equalU64(revisions(events), r.want) {
			t.Errorf("%s: revisions %v, want %v", r.name, revisions(events), r.want)
		}
	}
	got, err = c.GetStreamMetadata(ctx, stream, esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tb := got.TruncateBefore(); tb == nil || *tb != 3 {
		t.Errorf("$tb after recreation %v, want 3", tb)
	}
	if mc := got.MaxCount(); mc == nil || *mc != 10 {
		t.Errorf("recreation lost $maxCount: %+v", got)
	}

	// A second soft delete hides the recreated events too.
	if _, err := c.DeleteStream(ctx, stream, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(4)}); err != nil {
		t.Fatal(err)
	}
	_, err = readStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
	wantCode(t, err, esdb.ErrorCodeResourceNotFound)
	res := mustAppend(t, ctx, c, stream, esdb.Any{}, jsonEvent("newer", `{}`))
	if res.NextExpectedVersion != 5 {
		t.Errorf("second recreation at %d, want 5", res.NextExpectedVersion)
	}
	if events := mustReadStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10); !equalU64(revisions(events), []uint64{5}) {
		t.Errorf("after second recreation: %v, want [5]", revisions(events))
	}
}

func TestTombstone(t *testing.T) {
	t.Parallel()
	c, ctx := setup(t)
	stream := streamName(t)
	written := numbered("e", 2)
	appended := mustAppend(t, ctx, c, stream, esdb.NoStream{}, written...)
	res, err := c.TombstoneStream(ctx, stream, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	if res.Position.Commit == 0 || res.Position.Commit != res.Position.Prepare || res.Position.Commit <= appended.CommitPosition {
		t.Errorf("tombstone position %+v, last append at %d", res.Position, appended.CommitPosition)
	}
	all := allEvents(t, ctx, c)
	lastAll := all[len(all)-1].Event
	if lastAll.StreamID != stream || lastAll.EventType != "$streamDeleted" || lastAll.Position != res.Position {
		t.Errorf("last $all event %s %s at %+v, want $streamDeleted at %+v", lastAll.StreamID, lastAll.EventType, lastAll.Position, res.Position)
	}

	ops := []struct {
		name string
		run  func() error
	}{
		{"append any", func() error {
			_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, jsonEvent("e", `{}`))
			return err
		}},
		{"append no_stream", func() error {
			_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, jsonEvent("e", `{}`))
			return err
		}},
		{"append exact", func() error {
			_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, jsonEvent("e", `{}`))
			return err
		}},
		{"append retry of written events", func() error {
			_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, written...)
			return err
		}},
		{"read forwards", func() error {
			_, err := readStream(t, ctx, c, stream, esdb.ReadStreamOptions{}, 10)
			return err
		}},
		{"read backwards", func() error {
			_, err := readStream(t, ctx, c, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10)
			return err
		}},
		{"delete", func() error {
			_, err := c.DeleteStream(ctx, stream, esdb.DeleteStreamOptions{})
			return err
		}},
		{"tombstone again", func() error {
			_, err := c.TombstoneStream(ctx, stream, esdb.TombstoneStreamOptions{})
			return err
		}},
		{"subscribe", func() error {
			sub, err := c.SubscribeToStream(ctx, stream, esdb.SubscribeToStreamOptions{From: esdb.Start{}})
			if err == nil {
				sub.Close()
			}
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			wantCode(t, op.run(), esdb.ErrorCodeStreamDeleted)
		})
	}
	if again := allEvents(t, ctx, c); len(again) != len(all) {
		t.Errorf("operations on a tombstoned stream wrote %d events", len(again)-len(all))
	}

	// Streams that never existed or were soft-deleted can be tombstoned.
	for _, s := range []streamSetup{setupMissing, setupSoftDeleted} {
		name := streamName(t)
		s.run(t, ctx, c, name)
		if _, err := c.TombstoneStream(ctx, name, esdb.TombstoneStreamOptions{}); err != nil {
			t.Errorf("tombstone %s stream: %v", s.name, err)
		}
		_, err := c.AppendToStream(ctx, name, esdb.AppendToStreamOptions{}, jsonEvent("e", `{}`))
		wantCode(t, err, esdb.ErrorCodeStreamDeleted)
	}
}

func TestDeleteExpectedRevision(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c, ctx := newClient(t, srv), testContext(t)
	raw := rawClient(t, srv)
	cases := []struct {
		setup    streamSetup
		expected esdb.ExpectedRevision
		wantOK   bool
	}{
		{setupExisting, esdb.Any{}, true},
		{setupExisting, esdb.StreamExists{}, true},
		{setupExisting, esdb.Revision(2), true},
		{setupExisting, esdb.Revision(1), false},
		{setupExisting, esdb.Revision(3), false},
		{setupExisting, esdb.NoStream{}, false},
		{setupMissing, esdb.Any{}, true},
		{setupMissing, esdb.NoStream{}, true},
		{setupMissing, esdb.StreamExists{}, false},
		{setupMissing, esdb.Revision(0), false},
	}
	for _, hard := range []bool{false, true} {
		for _, tc := range cases {
			op := "delete"
			if hard {
				op = "tombstone"
			}
			t.Run(fmt.Sprintf("%s/%s/%T%v", op, tc.setup.name, tc.expected, tc.expected), func(t *testing.T) {
				t.Parallel()
				stream := streamName(t)
				tc.setup.run(t, ctx, c, stream)
				before := lastRevision(t, ctx, c, stream)
				var pos esdb.Position
				var err error
				if hard {
					var res *esdb.DeleteResult
					res, err = c.TombstoneStream(ctx, stream, esdb.TombstoneStreamOptions{ExpectedRevision: tc.expected})
					if err == nil {
						pos = res.Position
					}
				} else {
					var res *esdb.DeleteResult
					res, err = c.DeleteStream(ctx, stream, esdb.DeleteStreamOptions{ExpectedRevision: tc.expected})
					if err == nil {
						pos = res.Position
					}
				}
				if tc.wantOK {
					if err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					if pos.Commit == 0 || pos.Prepare == 0 {
						t.Errorf("%s position %+v", op, pos)
					}
					return
				}
				// EventStoreDB: FailedPrecondition with
				// exception=wrong-expected-version (the client maps it to
				// ErrorCodeUnknown).
				if err == nil {
					t.Fatalf("%s succeeded, want wrong expected version", op)
				}
				if code := grpcCode(err); code != codes.FailedPrecondition {
					t.Errorf("%s: %v (code %v), want FailedPrecondition", op, err, code)
				}
				if after := lastRevision(t, ctx, c, stream); after != before {
					t.Errorf("failed %s changed the stream: last revision %d, was %d", op, after, before)
				}
				if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, jsonEvent("still-writable", `{}`)); err != nil {
					t.Errorf("stream not writable after a failed %s: %v", op, err)
				}
			})
		}
	}

	// The trailers the client does not look at.
	stream := streamName(t)
	setupExisting.run(t, ctx, c, stream)
	id := &shared.StreamIdentifier{StreamName: []byte(stream)}
	calls := map[string]func(trailer *metadata.MD) error{
		"delete": func(tr *metadata.MD) error {
			_, err := raw.Delete(ctx, &streams.DeleteReq{Options: &streams.DeleteReq_Options{StreamIdentifier: id,
				ExpectedStreamRevision: &streams.DeleteReq_Options_Revision{Revision: 7}}}, grpc.Trailer(tr))
			return err
		},
		"tombstone": func(tr *metadata.MD) error {
			_, err := raw.Tombstone(ctx, &streams.TombstoneReq{Options: &streams.TombstoneReq_Options{StreamIdentifier: id,
				ExpectedStreamRevision: &streams.TombstoneReq_Options_NoStream{NoStream: &shared.Empty{}}}}, grpc.Trailer(tr))
			return err
		},
	}
	for name, call := range calls {
		var tr metadata.MD
		err := call(&tr)
		if grpcCode(err) != codes.FailedPrecondition {
			t.Errorf("raw %s: %v, want FailedPrecondition", name, err)
		}
		if ex := tr.Get("exception"); len(ex) != 1 || ex[0] != "wrong-expected-version" {
			t.Errorf("raw %s trailers %v, want exception=wrong-expected-version", name, tr)
		}
		if sn := tr.Get("stream-name"); len(sn) != 1 || sn[0] != stream {
			t.Errorf("raw %s trailers %v, want stream-name=%s", name, tr, stream)
		}
	}
}
