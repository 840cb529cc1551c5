package eventstore

import (
	"encoding/binary"
	"strconv"

	"github.com/google/uuid"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/accountd/accountd/internal/eventstore/storage"
)

// Events go out as ReadResp bytes encoded straight from the stored record:
// building the generated structs and marshalling them by reflection cost
// more than the storage read itself during catch-up. rawcodec_test.go checks
// the bytes against the generated types.

// rawMessage is an encoded protobuf message that rawCodec sends as is.
type rawMessage []byte

// rawCodec is the proto codec, except that rawMessage passes through.
type rawCodec struct{ proto encoding.CodecV2 }

func newRawCodec() rawCodec { return rawCodec{proto: encoding.GetCodecV2("proto")} }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return c.proto.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }
func (c rawCodec) Name() string                                { return "proto" }

// encodeReadEvent encodes what readEvent builds: ReadResp{event: ReadEvent{
// event: RecordedEvent{...}, commit_position | no_position}}.
func encodeReadEvent(e *storage.RecordedEvent, structured, withCommit bool) rawMessage {
	var created [20]byte
	createdStr := strconv.AppendInt(created[:0], e.Created, 10)
	n := 64 + len(e.Stream) + len(e.Type) + len(e.ContentType) + len(createdStr) + len(e.Metadata) + len(e.Data) + 64
	rec := make([]byte, 0, n)
	// 1: id
	var id []byte
	if structured {
		id = protowire.AppendTag(id, 1, protowire.BytesType)
		var s []byte
		if msb := binary.BigEndian.Uint64(e.ID[:8]); msb != 0 {
			s = protowire.AppendTag(s, 1, protowire.VarintType)
			s = protowire.AppendVarint(s, msb)
		}
		if lsb := binary.BigEndian.Uint64(e.ID[8:]); lsb != 0 {
			s = protowire.AppendTag(s, 2, protowire.VarintType)
			s = protowire.AppendVarint(s, lsb)
		}
		id = protowire.AppendBytes(id, s)
	} else {
		id = protowire.AppendTag(id, 2, protowire.BytesType)
		id = protowire.AppendString(id, uuidString(e.ID))
	}
	rec = protowire.AppendTag(rec, 1, protowire.BytesType)
	rec = protowire.AppendBytes(rec, id)
	// 2: stream_identifier{3: stream_name}
	rec = protowire.AppendTag(rec, 2, protowire.BytesType)
	rec = protowire.AppendVarint(rec, uint64(1+protowire.SizeBytes(len(e.Stream))))
	rec = protowire.AppendTag(rec, 3, protowire.BytesType)
	rec = protowire.AppendString(rec, e.Stream)
	rec = appendUint(rec, 3, e.Revision)
	rec = appendUint(rec, 4, e.Position)
	rec = appendUint(rec, 5, e.Position)
	// 6: metadata map entries
	rec = appendMapEntry(rec, 6, "type", e.Type)
	rec = appendMapEntry(rec, 6, "content-type", e.ContentType)
	rec = appendMapEntry(rec, 6, "created", string(createdStr))
	if len(e.Metadata) > 0 {
		rec = protowire.AppendTag(rec, 7, protowire.BytesType)
		rec = protowire.AppendBytes(rec, e.Metadata)
	}
	if len(e.Data) > 0 {
		rec = protowire.AppendTag(rec, 8, protowire.BytesType)
		rec = protowire.AppendBytes(rec, e.Data)
	}
	// ReadEvent
	ev := make([]byte, 0, len(rec)+24)
	ev = protowire.AppendTag(ev, 1, protowire.BytesType)
	ev = protowire.AppendBytes(ev, rec)
	if withCommit {
		ev = protowire.AppendTag(ev, 3, protowire.VarintType)
		ev = protowire.AppendVarint(ev, e.Position)
	} else {
		ev = protowire.AppendTag(ev, 4, protowire.BytesType)
		ev = protowire.AppendVarint(ev, 0)
	}
	// ReadResp
	out := make([]byte, 0, len(ev)+8)
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	return protowire.AppendBytes(out, ev)
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMapEntry(b []byte, num protowire.Number, k, v string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(1+protowire.SizeBytes(len(k))+1+protowire.SizeBytes(len(v))))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, k)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func uuidString(id [16]byte) string { return uuid.UUID(id).String() }
