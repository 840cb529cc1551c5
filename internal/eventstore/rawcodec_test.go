package eventstore

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/protobuf/proto"

	"github.com/accountd/accountd/internal/eventstore/storage"
)

// The hand-encoded bytes decode to exactly the message the generated types
// would build, for every shape of event.
func TestEncodeReadEventMatchesProto(t *testing.T) {
	events := map[string]storage.RecordedEvent{
		"full": {Stream: "s-1", Revision: 7, Position: 12345, ID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			Type: "t", ContentType: "application/json", Created: 638000000000000000, Data: []byte(`{"a":1}`), Metadata: []byte("m")},
		"zero values": {Stream: "s", Position: 1, Type: "t", ContentType: "application/octet-stream", Data: []byte{}, Metadata: []byte{}},
		"half id":     {Stream: "s", ID: [16]byte{8: 1}, Revision: math.MaxInt64, Position: math.MaxUint64, Type: "$streamDeleted", ContentType: "c", Created: -1},
		"large":       {Stream: strings.Repeat("x", 300), Position: 9, Type: "t", ContentType: "c", Data: make([]byte, 70000)},
	}
	for name, e := range events {
		for _, structured := range []bool{true, false} {
			for _, withCommit := range []bool{true, false} {
				var got streams.ReadResp
				if err := proto.Unmarshal(encodeReadEvent(&e, structured, withCommit), &got); err != nil {
					t.Fatal(err)
				}
				if want := readEvent(&e, structured, withCommit); !proto.Equal(&got, want) {
					t.Fatalf("%s structured=%v withCommit=%v:\ngot  %v\nwant %v", name, structured, withCommit, &got, want)
				}
			}
		}
	}
}

// readEvent builds the response with the generated types: the reference.
func readEvent(e *storage.RecordedEvent, structured, withCommit bool) *streams.ReadResp {
	ev := &streams.ReadResp_ReadEvent{Event: &streams.ReadResp_ReadEvent_RecordedEvent{
		Id:               uuidToProto(e.ID, structured),
		StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.Stream)},
		StreamRevision:   e.Revision,
		PreparePosition:  e.Position,
		CommitPosition:   e.Position,
		Metadata: map[string]string{
			"type":         e.Type,
			"content-type": e.ContentType,
			"created":      strconv.FormatInt(e.Created, 10),
		},
		CustomMetadata: e.Metadata,
		Data:           e.Data,
	}}
	if withCommit {
		ev.Position = &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.Position}
	} else {
		ev.Position = &streams.ReadResp_ReadEvent_NoPosition{NoPosition: &shared.Empty{}}
	}
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: ev}}
}
