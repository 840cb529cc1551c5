package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
)

// Key layout. Every key starts with a one-byte table tag.
const (
	tagEvent  byte = 1 // tagEvent | position(8)               -> event record
	tagStream byte = 2 // tagStream | uvarint len | name | rev(8) -> position(8)
	tagHead   byte = 3 // tagHead | name                         -> stream head
)

func eventKey(pos uint64) []byte {
	k := make([]byte, 9)
	k[0] = tagEvent
	binary.BigEndian.PutUint64(k[1:], pos)
	return k
}

func streamPrefix(stream string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen64+len(stream)+8)
	k = append(k, tagStream)
	k = binary.AppendUvarint(k, uint64(len(stream)))
	return append(k, stream...)
}

func streamKey(stream string, rev uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(stream), rev)
}

func headKey(stream string) []byte { return append([]byte{tagHead}, stream...) }

func encodePos(pos uint64) []byte { return binary.BigEndian.AppendUint64(nil, pos) }

var errCorrupt = errors.New("storage: corrupt record")

const recordVersion = 1

func encodeEvent(e *RecordedEvent) []byte {
	n := 1 + 5*binary.MaxVarintLen64 + len(e.Stream) + 8 + 16 + 8 + len(e.Type) + len(e.ContentType) + len(e.Metadata) + len(e.Data)
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = appendBytes(b, []byte(e.Stream))
	b = binary.BigEndian.AppendUint64(b, e.Revision)
	b = append(b, e.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Created))
	b = appendBytes(b, []byte(e.Type))
	b = appendBytes(b, []byte(e.ContentType))
	b = appendBytes(b, e.Metadata)
	b = appendBytes(b, e.Data)
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decodeEvent copies everything it keeps: the input belongs to an iterator.
func decodeEvent(pos uint64, b []byte) (RecordedEvent, error) {
	e := RecordedEvent{Position: pos}
	if len(b) < 1 || b[0] != recordVersion {
		return e, errCorrupt
	}
	r := reader{b: b[1:]}
	e.Stream = string(r.bytes())
	e.Revision = r.uint64()
	copy(e.ID[:], r.fixed(16))
	e.Created = int64(r.uint64())
	e.Type = string(r.bytes())
	e.ContentType = string(r.bytes())
	e.Metadata = cloneBytes(r.bytes())
	e.Data = cloneBytes(r.bytes())
	if r.err {
		return e, errCorrupt
	}
	return e, nil
}

// decodeEventStream reads only the stream name and revision of a record.
func decodeEventStream(b []byte) (string, uint64, [16]byte, error) {
	var id [16]byte
	if len(b) < 1 || b[0] != recordVersion {
		return "", 0, id, errCorrupt
	}
	r := reader{b: b[1:]}
	stream := string(r.bytes())
	rev := r.uint64()
	copy(id[:], r.fixed(16))
	if r.err {
		return "", 0, id, errCorrupt
	}
	return stream, rev, id, nil
}

func cloneBytes(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) fixed(n int) []byte {
	if r.err || len(r.b) < n {
		r.err = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uint64() uint64 {
	v := r.fixed(8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (r *reader) bytes() []byte {
	if r.err {
		return nil
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = true
		return nil
	}
	r.b = r.b[k:]
	return r.fixed(int(n))
}

// streamHead is the small per-stream record consulted on every append.
type streamHead struct {
	LastRevision int64 `json:"r"` // -1: never written
	Tombstoned   bool  `json:"t,omitempty"`
	// Metadata as last written to $$<stream>; nil when none.
	Metadata json.RawMessage `json:"m,omitempty"`
}

func newHead() streamHead { return streamHead{LastRevision: -1} }

func encodeHead(h streamHead) []byte {
	b, _ := json.Marshal(h) // a struct of plain fields cannot fail to marshal
	return b
}

func decodeHead(b []byte) (streamHead, error) {
	h := newHead()
	if err := json.Unmarshal(b, &h); err != nil {
		return h, errCorrupt
	}
	return h, nil
}

// streamMetadata is the part of $metadata the store acts on.
type streamMetadata struct {
	MaxCount       int64 // 0: unlimited
	MaxAgeSeconds  int64 // 0: unlimited
	TruncateBefore int64 // -1: none
}

func parseMetadata(raw []byte) streamMetadata {
	m := streamMetadata{TruncateBefore: -1}
	if len(raw) == 0 {
		return m
	}
	fields, err := decodeObject(raw)
	if err != nil {
		return m // EventStoreDB ignores metadata it cannot parse
	}
	if v, ok := intField(fields, "$maxCount"); ok && v > 0 {
		m.MaxCount = v
	}
	if v, ok := intField(fields, "$maxAge"); ok && v > 0 {
		m.MaxAgeSeconds = v
	}
	if v, ok := intField(fields, "$tb"); ok && v >= 0 {
		m.TruncateBefore = v
	}
	return m
}

// decodeObject keeps numbers exact: $tb can be math.MaxInt64.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errCorrupt
	}
	return fields, nil
}

func intField(fields map[string]any, name string) (int64, bool) {
	n, ok := fields[name].(json.Number)
	if !ok {
		return 0, false
	}
	if v, err := n.Int64(); err == nil {
		return v, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) {
		return 0, false
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64, true
	}
	return 0, false
}

// softDeleted: the stream's $tb says it is deleted.
func (h streamHead) softDeleted() bool {
	return parseMetadata(h.Metadata).TruncateBefore == DeletedStreamRevision
}

// exists: has visible history that expected-revision checks can see.
func (h streamHead) exists() bool {
	return h.LastRevision >= 0 && !h.softDeleted()
}

// withTruncateBefore returns metadata JSON with $tb set, other keys kept.
func withTruncateBefore(raw []byte, tb int64) []byte {
	fields, err := decodeObject(raw)
	if err != nil {
		fields = map[string]any{} // unparsable metadata is replaced
	}
	fields["$tb"] = tb
	b, _ := json.Marshal(fields)
	return b
}
