// Package projector is the runtime of the read models: each projector of
// package projections runs as a durable JetStream consumer whose executor
// decodes events, reduces them, applies the writes to MongoDB and only then
// acknowledges (checkpoints) the messages they covered. Progress tells
// queries how far each read model has come.
package projector

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
)

// Metrics counts what executors do; nil counts nothing.
type Metrics interface {
	Parked(projector string)
}

// Executor runs one projector as a durable JetStream consumer writing to
// MongoDB. Delivery is at least once; the version guard on every write makes
// redelivery harmless, and messages are acknowledged only after the batch
// they belong to is written.
type Executor struct {
	Projector projections.Projector
	JetStream jetstream.JetStream
	Stream    string // JetStream stream the relay feeds
	Subject   string // its subject prefix
	DB        *mongo.Database
	Progress  *Progress
	Logger    *slog.Logger
	Metrics   Metrics
	BatchSize int

	// versions remembers what this executor last wrote or read per
	// document, sparing a read before each write. Only Run's goroutine
	// uses it.
	versions map[string]uint64

	mu       sync.Mutex
	consumer jetstream.Consumer
	eventAt  time.Time // time of the last event applied
}

// maxRememberedVersions bounds versions; past it the map starts afresh.
const maxRememberedVersions = 100_000

func (x *Executor) setDefaults() {
	if x.BatchSize <= 0 {
		x.BatchSize = 512
	}
	if x.Logger == nil {
		x.Logger = slog.New(slog.DiscardHandler)
	}
	if x.Metrics == nil {
		x.Metrics = noMetrics{}
	}
}

// Run consumes until ctx ends (nil) or its consumer fails (an error: run it
// under a supervisor, which starts it again and so recreates the consumer).
func (x *Executor) Run(ctx context.Context) error {
	x.setDefaults()
	subjects := make([]string, len(x.Projector.Categories))
	for i, c := range x.Projector.Categories {
		subjects[i] = x.Subject + "." + c
	}
	cons, err := x.JetStream.CreateOrUpdateConsumer(ctx, x.Stream, jetstream.ConsumerConfig{
		Durable:        x.Projector.Name,
		AckPolicy:      jetstream.AckAllPolicy,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: subjects,
		AckWait:        30 * time.Second, // redelivery after a crash
		MaxAckPending:  20_000,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("projector %s: consumer: %w", x.Projector.Name, err)
	}
	x.mu.Lock()
	x.consumer = cons
	x.mu.Unlock()
	// Pull exactly what is processed next: nothing sits in a client buffer
	// unacknowledged when the service stops, so a restart resumes at once.
	for ctx.Err() == nil {
		batch, err := x.fetch(cons)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("projector %s: fetch: %w", x.Projector.Name, err)
		}
		if len(batch) > 0 {
			x.process(ctx, batch)
		}
	}
	return nil
}

// Pending is how many messages of the projector's subjects wait to be
// applied (delivered but unacknowledged ones included).
func (x *Executor) Pending(ctx context.Context) (uint64, time.Time, error) {
	x.mu.Lock()
	cons, at := x.consumer, x.eventAt
	x.mu.Unlock()
	if cons == nil {
		return 0, at, errors.New("consumer not created yet")
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, at, err
	}
	return info.NumPending + uint64(info.NumAckPending), at, nil
}

// fetch waits up to a second for one message, then takes whatever else is
// already there, up to a batch.
func (x *Executor) fetch(cons jetstream.Consumer) ([]jetstream.Msg, error) {
	first, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return nil, err
	}
	msgs, err := collect(first, nil)
	if err != nil || len(msgs) == 0 || x.BatchSize == 1 {
		return msgs, err
	}
	more, err := cons.FetchNoWait(x.BatchSize - 1)
	if err != nil {
		return msgs, nil
	}
	return collect(more, msgs)
}

func collect(b jetstream.MessageBatch, into []jetstream.Msg) ([]jetstream.Msg, error) {
	for m := range b.Messages() {
		into = append(into, m)
	}
	if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return into, err
	}
	return into, nil
}

// process applies a batch, retrying until it is written, then acknowledges.
func (x *Executor) process(ctx context.Context, batch []jetstream.Msg) {
	envs := make([]events.Envelope, 0, len(batch))
	var parked []Parked
	for _, m := range batch {
		var e events.Envelope
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			parked = append(parked, Parked{Raw: m.Data(), Err: err})
			continue
		}
		envs = append(envs, e)
	}
	writes, more, last := x.Reduce(envs)
	parked = append(parked, more...)
	// A batch being written is finished even when shutdown begins.
	writeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := x.apply(writeCtx, writes, parked)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			for _, m := range batch {
				_ = m.Nak()
			}
			return
		}
		x.Logger.Error("projector write failed, retrying", "projector", x.Projector.Name, "err", err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
		}
	}
	// AckAll: acknowledging the last message covers the whole batch.
	if err := batch[len(batch)-1].Ack(); err != nil {
		x.Logger.Warn("projector ack failed; the batch will be redelivered", "projector", x.Projector.Name, "err", err)
	}
	if len(envs) > 0 {
		if meta, err := events.DecodeMetadata(envs[len(envs)-1].Metadata); err == nil {
			x.mu.Lock()
			x.eventAt = meta.Time
			x.mu.Unlock()
		}
	}
	if x.Progress != nil && last > 0 {
		x.Progress.Advance(x.Projector.Name, last)
	}
}

// Parked is an event the projector could not use, kept for someone to
// look at (accountctl parked) rather than stopping the read model.
type Parked struct {
	Envelope *events.Envelope // nil when the message itself was unreadable
	Raw      []byte
	Err      error
}

// Reduce runs the pure step over a batch: coalesced writes, events to park,
// and the highest position seen.
func (x *Executor) Reduce(envs []events.Envelope) ([]projections.Write, []Parked, uint64) {
	var writes []projections.Write
	var parked []Parked
	var last uint64
	for i := range envs {
		last = max(last, envs[i].Position)
		rec, err := envs[i].Decode()
		if err == nil {
			var ws []projections.Write
			if ws, err = x.Projector.Reduce(rec); err == nil {
				writes = append(writes, ws...)
				continue
			}
		}
		parked = append(parked, Parked{Envelope: &envs[i], Err: fmt.Errorf("%s at %s@%d: %w", envs[i].Type, envs[i].Stream, envs[i].Revision, err)})
	}
	return projections.Coalesce(writes), parked, last
}

// apply writes each coalesced document, skipping those already at the
// write's version or newer. It reads and writes by _id only: FerretDB on
// SQLite scans for any other filter, and does not check a filter's guard
// atomically nor report bulk failures reliably. Each collection has one
// projector and each projector one executor, so nothing writes a document
// between its read and its write.
func (x *Executor) apply(ctx context.Context, writes []projections.Write, parked []Parked) error {
	if x.versions == nil || len(x.versions) > maxRememberedVersions {
		x.versions = map[string]uint64{}
	}
	for _, w := range writes {
		coll := x.DB.Collection(w.Collection)
		key := w.Collection + "\x00" + w.ID
		stored, known := x.versions[key]
		if !known {
			var current struct {
				Version int64 `bson:"_v"`
			}
			err := coll.FindOne(ctx, bson.M{"_id": w.ID}, options.FindOne().SetProjection(bson.M{projections.VersionField: 1})).Decode(&current)
			if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
				return fmt.Errorf("read %s/%s: %w", w.Collection, w.ID, err)
			}
			stored = uint64(max(current.Version, 0))
		}
		if stored >= w.Version {
			x.versions[key] = stored
			continue // applied before: this is a redelivery
		}
		set, unset := bson.M{projections.VersionField: int64(w.Version)}, bson.M{}
		for k, v := range w.Set {
			if _, remove := v.(projections.Removal); remove {
				unset[k] = ""
			} else {
				set[k] = v
			}
		}
		change := bson.M{"$set": set}
		if len(unset) > 0 {
			change["$unset"] = unset
		}
		if _, err := coll.UpdateOne(ctx, bson.M{"_id": w.ID}, change, options.Update().SetUpsert(true)); err != nil {
			delete(x.versions, key) // the write may or may not have happened
			return fmt.Errorf("write %s/%s: %w", w.Collection, w.ID, err)
		}
		x.versions[key] = w.Version
	}
	for _, p := range parked {
		if err := x.park(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (x *Executor) park(ctx context.Context, p Parked) error {
	doc := bson.M{"projector": x.Projector.Name, "error": p.Err.Error(), "parked_at": time.Now().UTC()}
	id := fmt.Sprintf("%s:unreadable:%x", x.Projector.Name, sha256.Sum256(p.Raw))
	if p.Envelope != nil {
		e := p.Envelope
		id = x.Projector.Name + ":" + e.ID
		doc["event_id"], doc["stream"], doc["type"], doc["position"] = e.ID, e.Stream, e.Type, int64(e.Position)
		doc["data"] = string(e.Data)
	} else {
		doc["raw"] = string(p.Raw)
	}
	x.Logger.Error("projector parked an event it cannot handle", "projector", x.Projector.Name, "id", id, "err", p.Err)
	_, err := x.DB.Collection(projections.ParkedCollection).UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": doc}, options.Update().SetUpsert(true))
	if err == nil {
		x.Metrics.Parked(x.Projector.Name)
	}
	return err
}

type noMetrics struct{}

func (noMetrics) Parked(string) {}
