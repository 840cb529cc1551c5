package eventlog

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

// Memory is an in-memory event log for command tests. Events are stored
// encoded and decoded on every read, as the real store's are, so a payload
// that does not survive JSON fails here too.
type Memory struct {
	mu      sync.Mutex
	all     []stored         // $all; position = index + 1
	streams map[string][]int // stream -> indexes into all
	// truncated: stream -> the first revision reads still return.
	truncated map[string]uint64
	reads     int
}

type stored struct {
	id       uuid.UUID
	stream   string
	revision uint64
	typ      string
	data     []byte
	meta     []byte
}

// NewMemory returns an empty log.
func NewMemory() *Memory { return &Memory{streams: map[string][]int{}, truncated: map[string]uint64{}} }

// ReadStream implements commands.EventLog.
func (m *Memory) ReadStream(ctx context.Context, stream string, after commands.Version) ([]events.Recorded, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.reads++
	var picked []stored
	var positions []uint64
	for _, i := range m.streams[stream] {
		if m.all[i].revision < m.truncated[stream] {
			continue
		}
		if after < 0 || m.all[i].revision > uint64(after) {
			picked = append(picked, m.all[i])
			positions = append(positions, uint64(i)+1)
		}
	}
	m.mu.Unlock()
	out := make([]events.Recorded, len(picked))
	for i, s := range picked {
		rec := events.Recorded{ID: s.id, Stream: s.stream, Revision: s.revision, Position: positions[i], Type: s.typ}
		var err error
		if rec.Metadata, err = events.DecodeMetadata(s.meta); err != nil {
			return nil, err
		}
		if rec.Payload, err = events.Decode(s.typ, s.data); err != nil {
			return nil, err
		}
		out[i] = rec
	}
	return out, nil
}

// Append implements commands.EventLog.
func (m *Memory) Append(ctx context.Context, stream string, expected commands.Version, meta events.Metadata, payloads ...events.Payload) (commands.Appended, error) {
	if err := ctx.Err(); err != nil {
		return commands.Appended{}, err
	}
	metaJSON, err := events.EncodeMetadata(meta)
	if err != nil {
		return commands.Appended{}, err
	}
	encoded := make([]stored, len(payloads))
	for i, p := range payloads {
		t, data, err := events.Encode(p)
		if err != nil {
			return commands.Appended{}, err
		}
		encoded[i] = stored{id: uuid.New(), stream: stream, typ: t, data: data, meta: metaJSON}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	current := commands.Version(len(m.streams[stream])) - 1
	if expected != commands.AnyVersion && expected != current {
		return commands.Appended{}, commands.ErrWrongExpectedVersion
	}
	for _, s := range encoded {
		current++
		s.revision = uint64(current)
		m.streams[stream] = append(m.streams[stream], len(m.all))
		m.all = append(m.all, s)
	}
	return commands.Appended{Revision: uint64(current), Position: uint64(len(m.all))}, nil
}

// TruncateBefore implements commands.EventLog. The events are hidden, as
// on the real store until a scavenge.
func (m *Memory) TruncateBefore(ctx context.Context, stream string, revision uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.truncated[stream] = revision
	return nil
}

// Reads counts ReadStream calls, for tests that must not read.
func (m *Memory) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}
