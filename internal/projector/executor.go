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
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/relay"
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
	// Keys opens the personal fields of events for a Personal projector.
	Keys Opener

	// Suffix names the physical collections (and the consumer) of a
	// generation of the read model: "" for the first, "__g2" and so on for
	// rebuilt ones, "__<name>" for scratch copies.
	Suffix string
	// Fresh: the collections start empty (a rebuild), so what the executor
	// has not written does not exist, and it need not read before writing.
	Fresh bool
	// Until, when set, stops the executor before the first event written
	// after it (a point-in-time copy); Run then returns.
	Until time.Time

	// versions remembers what this executor last wrote per document,
	// sparing writes known to be redundant; logs remembers the append-only
	// logs' indexes, sparing a read before each append. Hints only: the
	// guard in the database decides, and both are forgotten whenever
	// another executor may have written (a start, a new pin). Only Run's
	// goroutine uses them.
	versions map[string]uint64
	logs     map[string]logState

	// Checkpoints, when set, is told after each batch's writes (before
	// they are acknowledged) the highest log position applied, under the
	// consumer's name: other replicas follow it for read-your-writes.
	Checkpoints Checkpointer

	// PinnedTTL is how long the consumer stays pinned to an executor that
	// stopped pulling (zero: DefaultPinnedTTL).
	PinnedTTL time.Duration

	// relevant are the subjects of the projector's categories; next is the
	// stream sequence it applies next (0: unknown). Only Run's goroutine
	// uses them.
	relevant map[string]bool
	next     uint64

	mu       sync.Mutex
	pin      string // the pin it last held ("": a standby); written by Run's goroutine only
	consumer jetstream.Consumer
	eventAt  time.Time // time of the last event applied
}

// Checkpointer records how far a consumer has applied the log
// (coord.Checkpoints).
type Checkpointer interface {
	Record(ctx context.Context, consumer string, position uint64) error
}

// Opener opens the personal fields of a payload owned by owner; those of an
// erased owner come back empty (keystore.Store).
type Opener interface {
	OpenPayload(ctx context.Context, owner string, p events.Payload) (events.Payload, bool, error)
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

// Pinning: every replica runs an executor of each projector on the same
// durable consumer, and JetStream delivers to one of them at a time (the
// pinned one); the others' pulls wait. The pin moves when its holder stops
// pulling for PinnedTTL (a crash), or at once when it unpins on a graceful
// stop.
const (
	// PriorityGroup is the consumers' one priority group.
	PriorityGroup = "active"
	// DefaultPinnedTTL: a crashed holder's read model resumes elsewhere
	// within this (plus one pull expiry).
	DefaultPinnedTTL = 10 * time.Second
	// maxPullExpiry bounds a pull: the holder pulls again well within the
	// TTL, so an idle holder keeps its pin.
	maxPullExpiry = 3 * time.Second
)

// Run consumes until ctx ends (nil) or its consumer fails (an error: run it
// under a supervisor, which starts it again and so recreates the consumer).
// On the way out it gives up its pin, so a standby takes over at once.
func (x *Executor) Run(ctx context.Context) error {
	x.setDefaults()
	if x.Projector.Personal && x.Keys == nil {
		return fmt.Errorf("projector %s: reads personal data, but no key store is configured", x.Projector.Name)
	}
	x.relevant = map[string]bool{}
	for _, c := range x.Projector.Categories {
		x.relevant[x.Subject+"."+c] = true
	}
	// Unfiltered: every event passes (those of other categories acked
	// without a write), so the consumer's stream sequences have no holes
	// (a gap is work another executor took and did not finish) and its
	// checkpoint follows the whole log. Updating the existing consumer
	// keeps its place: a new name would replay the read model.
	cons, err := x.JetStream.CreateOrUpdateConsumer(ctx, x.Stream, jetstream.ConsumerConfig{
		Durable:        x.Consumer(),
		AckPolicy:      jetstream.AckAllPolicy,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckWait:        30 * time.Second, // redelivery after a crash
		MaxAckPending:  20_000,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{PriorityGroup},
		PinnedTTL:      x.pinnedTTL(),
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
	x.forget()
	x.setPin("")
	x.next = 0
	defer x.unpin(cons)
	var unanswered time.Time // since when pulls have found no consumer leader
	for ctx.Err() == nil {
		done, err := x.pull(ctx, cons)
		if Leaderless(err) {
			if unanswered.IsZero() {
				unanswered = time.Now()
			}
			if time.Since(unanswered) < leaderlessPatience {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(leaderlessPause):
				}
				continue
			}
			err = fmt.Errorf("%w (for %s)", err, leaderlessPatience)
		} else if err == nil {
			unanswered = time.Time{}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("projector %s: fetch: %w", x.Projector.Name, err)
		}
		if done {
			return nil // the point in time is reached
		}
	}
	return nil
}

func (x *Executor) pinnedTTL() time.Duration {
	if x.PinnedTTL > 0 {
		return x.PinnedTTL
	}
	return DefaultPinnedTTL
}

// pull sends one pull request (up to a batch, for up to the pull expiry)
// and processes what it brings as it arrives: whatever has arrived is one
// batch, so a lone event is applied at once and a backlog in large
// batches. Nothing is fetched that is not processed before the next pull.
func (x *Executor) pull(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	expiry := min(maxPullExpiry, x.pinnedTTL()/3)
	res, err := cons.Fetch(x.BatchSize, jetstream.FetchMaxWait(expiry), jetstream.FetchHeartbeat(min(time.Second, expiry/2)),
		jetstream.FetchPriorityGroup(PriorityGroup))
	if err != nil {
		return false, err
	}
	msgs := res.Messages()
	for {
		var batch []jetstream.Msg
		select {
		case <-ctx.Done():
			// What else this pull brings is left unacknowledged: the next
			// holder finds it as a gap and reads it from the stream.
			return false, nil
		case m, ok := <-msgs:
			if !ok {
				return false, pullError(res.Error(), x)
			}
			batch = append(batch, m)
		}
	more:
		for len(batch) < x.BatchSize {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		done, err := x.handle(ctx, cons, batch)
		if err != nil || done {
			return done, err
		}
	}
}

// On a NATS cluster a pull finds no consumer leader for a while: right
// after the consumer is created (its leader's interest is still travelling
// between the NATS nodes: "no responders") and while a new leader is
// elected after the node leading it died (the pull's heartbeats stop, then
// "no responders" for a few seconds). The executor pulls again, every
// leaderlessPause, for up to leaderlessPatience (beyond any election),
// rather than failing: a failure restarts it, and fails a build in
// accountctl (verify, rebuild) outright.
const (
	leaderlessPatience = 20 * time.Second
	leaderlessPause    = 100 * time.Millisecond
)

// Leaderless says whether a pull failed for want of a consumer leader.
func Leaderless(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoHeartbeat)
}

// pullError sorts a pull's end: a lost pin or a moved consumer leader are
// a standby's normal life (pull again); anything else fails the executor.
func pullError(err error, x *Executor) error {
	switch {
	case err == nil, errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrNoMessages):
		return nil
	case errors.Is(err, jetstream.ErrPinIDMismatch), errors.Is(err, jetstream.ErrConsumerLeadershipChanged):
		x.setPin("") // another executor holds it now
		return nil
	}
	return err
}

// item is one message to process: delivered by the consumer, or read from
// the stream to fill a gap.
type item struct {
	data    []byte
	subject string
	headers nats.Header
}

// handle processes a delivered batch and acknowledges it. When the pin is
// new to this executor, another may have held work it never finished (a
// crash leaves messages delivered but unacknowledged, and JetStream
// delivers newer ones first): everything between the consumer's
// acknowledged floor and the batch is read from the stream and applied
// first, so acknowledging the batch (AckAll) loses nothing. It reports
// whether Until was reached.
func (x *Executor) handle(ctx context.Context, cons jetstream.Consumer, batch []jetstream.Msg) (bool, error) {
	if pin := batch[0].Headers().Get("Nats-Pin-Id"); pin != x.pin || x.next == 0 {
		x.setPin(pin)
		x.forget()
		info, err := cons.Info(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("consumer state: %w", err)
		}
		x.next = info.AckFloor.Stream + 1
	}
	next := x.next
	var items []item
	for _, m := range batch {
		md, err := m.Metadata()
		if err != nil {
			return false, fmt.Errorf("message metadata: %w", err)
		}
		seq := md.Sequence.Stream
		if seq < next {
			continue // applied before (a redelivery)
		}
		if seq > next {
			filled, err := x.fill(ctx, next, seq)
			if err != nil {
				if ctx.Err() != nil {
					return false, nil
				}
				return false, err
			}
			items = append(items, filled...)
		}
		items = append(items, item{data: m.Data(), subject: m.Subject(), headers: m.Headers()})
		next = seq + 1
	}
	if !x.Until.IsZero() {
		if cut := x.untilCut(items); cut < len(items) {
			if cut > 0 {
				x.process(ctx, items[:cut])
			}
			return true, nil // the point in time is reached
		}
	}
	if len(items) > 0 && !x.process(ctx, items) {
		for _, m := range batch {
			_ = m.Nak()
		}
		return false, nil
	}
	x.next = next
	// AckAll: acknowledging the last message covers the whole batch.
	if err := batch[len(batch)-1].Ack(); err != nil {
		x.Logger.Warn("projector ack failed; the batch will be redelivered", "projector", x.Projector.Name, "err", err)
	}
	return false, nil
}

// fill reads the stream's messages from..until-1 (a gap another executor
// left).
func (x *Executor) fill(ctx context.Context, from, until uint64) ([]item, error) {
	stream, err := x.JetStream.Stream(ctx, x.Stream)
	if err != nil {
		return nil, fmt.Errorf("read a gap: %w", err)
	}
	x.Logger.Info("projector takes over unfinished work", "projector", x.Projector.Name, "from_seq", from, "to_seq", until-1)
	var items []item
	for seq := from; seq < until; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed from the stream: nothing to apply
		}
		if err != nil {
			return nil, fmt.Errorf("read a gap at %d: %w", seq, err)
		}
		items = append(items, item{data: m.Data, subject: m.Subject, headers: m.Header})
	}
	return items, nil
}

// untilCut is the index of the first message written after Until.
func (x *Executor) untilCut(items []item) int {
	for i, m := range items {
		var e struct {
			Metadata json.RawMessage `json:"metadata"`
		}
		if json.Unmarshal(m.data, &e) != nil {
			continue
		}
		if meta, err := events.DecodeMetadata(e.Metadata); err == nil && meta.Time.After(x.Until) {
			return i
		}
	}
	return len(items)
}

// Consumer is the name of the executor's durable consumer.
func (x *Executor) Consumer() string { return x.Projector.Name + x.Suffix }

// Pending is how many messages wait to be applied (delivered but
// unacknowledged ones included).
func (x *Executor) Pending(ctx context.Context) (uint64, time.Time, error) {
	info, at, err := x.info(ctx)
	if err != nil {
		return 0, at, err
	}
	return info.NumPending + uint64(info.NumAckPending), at, nil
}

// info is the consumer's state, and the time of the last event applied.
func (x *Executor) info(ctx context.Context) (*jetstream.ConsumerInfo, time.Time, error) {
	x.mu.Lock()
	cons, at := x.consumer, x.eventAt
	x.mu.Unlock()
	if cons == nil {
		return nil, at, errors.New("consumer not created yet")
	}
	info, err := cons.Info(ctx)
	return info, at, err
}

// unpin gives up the pin, if this executor holds it, so a standby's pull
// gets the next messages at once rather than after the TTL.
func (x *Executor) unpin(jetstream.Consumer) {
	Unpin(x.JetStream, x.Stream, x.Consumer(), x.pin, x.Logger)
	x.setPin("")
}

// setPin records the pin this executor holds ("": none); Run's goroutine
// alone writes it.
func (x *Executor) setPin(pin string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pin = pin
}

// Active says whether this executor holds its consumer's pin (it got the
// last messages delivered): the replica applying this read model now.
func (x *Executor) Active() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.pin != ""
}

// Unpin gives up a consumer's pin if pin (the Nats-Pin-Id its holder last
// got) still holds it: a standby then takes over at once. A failure only
// means the pin expires after its TTL.
func Unpin(js jetstream.JetStream, streamName, consumer, pin string, log *slog.Logger) {
	if pin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, streamName, consumer)
	if err != nil {
		return
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group != PriorityGroup || g.PinnedClientID != pin {
			continue
		}
		stream, err := js.Stream(ctx, streamName)
		if err == nil {
			err = stream.UnpinConsumer(ctx, consumer, PriorityGroup)
		}
		if err != nil && log != nil {
			log.Debug("pin not given up; it expires", "consumer", consumer, "err", err)
		}
	}
}

// process applies a batch, retrying until it is written; false when ctx
// ended first (the batch is to be delivered again). Messages of categories
// the projector does not read are not even decoded.
func (x *Executor) process(ctx context.Context, items []item) bool {
	envs := make([]events.Envelope, 0, len(items))
	var parked []Parked
	var last uint64
	for _, m := range items {
		if pos, err := strconv.ParseUint(m.headers.Get(relay.PositionHeader), 10, 64); err == nil {
			last = max(last, pos)
		}
		if !x.relevant[m.subject] {
			continue
		}
		var e events.Envelope
		if err := json.Unmarshal(m.data, &e); err != nil {
			parked = append(parked, Parked{Raw: m.data, Err: err})
			continue
		}
		envs = append(envs, e)
	}
	writes, more, applied := x.Reduce(ctx, envs)
	last = max(last, applied)
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
			return false
		}
		x.Logger.Error("projector write failed, retrying", "projector", x.Projector.Name, "err", err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
		}
	}
	if len(envs) > 0 {
		if meta, err := events.DecodeMetadata(envs[len(envs)-1].Metadata); err == nil {
			x.mu.Lock()
			x.eventAt = meta.Time
			x.mu.Unlock()
		}
	}
	if x.Checkpoints != nil && last > 0 {
		// A checkpoint not recorded only delays other replicas' reads that
		// wait for it: the next batch records a newer one.
		if err := x.Checkpoints.Record(writeCtx, x.Consumer(), last); err != nil {
			x.Logger.Warn("projector checkpoint not recorded", "projector", x.Projector.Name, "err", err)
		}
	}
	if x.Progress != nil && last > 0 {
		x.Progress.Advance(x.Projector.Name, last)
	}
	return true
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
func (x *Executor) Reduce(ctx context.Context, envs []events.Envelope) ([]projections.Write, []Parked, uint64) {
	var writes []projections.Write
	var parked []Parked
	var last uint64
	for i := range envs {
		last = max(last, envs[i].Position)
		rec, err := envs[i].Decode()
		if err == nil && x.Projector.Personal {
			rec, err = x.open(ctx, rec)
		}
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

// open opens an event's personal fields with its owner's key.
func (x *Executor) open(ctx context.Context, rec events.Recorded) (events.Recorded, error) {
	if x.Keys == nil {
		return rec, errors.New("no key store to open personal data")
	}
	owner := events.Owner(rec.Stream)
	if owner == "" {
		return rec, nil
	}
	var err error
	rec.Payload, _, err = x.Keys.OpenPayload(ctx, owner, rec.Payload)
	return rec, err
}

// apply writes each coalesced document and appends log entries. Every
// write is guarded in the database by the event's version: it replaces a
// document only where the stored _v is lower (filter {_id, _v: {$lt: v}}),
// and an upsert that finds the _id taken (a duplicate key) means the
// document is already newer, so it is skipped. Older never lands over
// newer, and a redelivered batch changes nothing, whoever else writes the
// same read model (a pinned executor is not guaranteed to be alone: a NATS
// node lost moves the pin while the old holder still writes). The versions
// memo only spares writes known to be redundant: a document never moves
// back, so what this executor once saw stored is a lower bound. On FerretDB
// v1 a filtered update reads, then replaces, so two executors racing on one
// document are not atomic; the guard still makes them converge on the
// newest event. Writes go out as ordered bulk writes of at most bulkSize
// statements (FerretDB deadlocks on much larger ones); a failure fails the
// batch, which is retried whole (every write is idempotent).
func (x *Executor) apply(ctx context.Context, writes []projections.Write, parked []Parked) error {
	if x.versions == nil || len(x.versions) > maxRememberedVersions {
		x.versions = map[string]uint64{}
	}
	if x.logs == nil || len(x.logs) > maxRememberedVersions {
		x.logs = map[string]logState{}
	}
	var ops []op
	versions := map[string]uint64{} // what the versions memo learns if the batch succeeds
	logs := map[string]logState{}
	for _, w := range writes {
		if w.Append != nil {
			continue
		}
		key := w.Collection + "\x00" + w.ID
		if stored, known := x.versions[key]; known && stored >= w.Version {
			continue // written before: a redelivery
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
		ops = append(ops, op{w.Collection, guarded(w.ID, int64(w.Version), change)})
		versions[key] = w.Version
	}
	appendOps, err := x.planAppends(ctx, writes, logs)
	if err != nil {
		return err
	}
	if err := x.bulk(ctx, append(ops, appendOps...)); err != nil {
		return err
	}
	maps.Copy(x.versions, versions)
	maps.Copy(x.logs, logs)
	for _, p := range parked {
		if err := x.park(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// guarded is an upsert of document id that applies only where the stored
// version is below version.
func guarded(id string, version int64, change bson.M) mongo.WriteModel {
	return mongo.NewUpdateOneModel().SetFilter(bson.M{"_id": id, projections.VersionField: bson.M{"$lt": version}}).SetUpdate(change).SetUpsert(true)
}

// forget drops what the executor remembers of stored documents: after a
// (re)start or a change of pin another executor may have written since.
func (x *Executor) forget() {
	x.versions, x.logs = nil, nil
}

// logState is what an executor knows of one append-only log's index.
type logState struct {
	version, seq, count int64
}

// planAppends turns appends into bucket and index writes: entries go to the
// newest bucket until it is full.
func (x *Executor) planAppends(ctx context.Context, writes []projections.Write, learned map[string]logState) ([]op, error) {
	type target struct{ buckets, index, id string }
	bucketSets := map[target]map[int64]bson.M{}
	var order []target
	for _, w := range writes {
		a := w.Append
		if a == nil {
			continue
		}
		t := target{a.Buckets, w.Collection, w.ID}
		key := w.Collection + "\x00" + w.ID
		st, ok := learned[key]
		if !ok {
			if st, ok = x.logs[key]; !ok && !x.Fresh {
				var doc struct {
					Version int64 `bson:"_v"`
					Seq     int64 `bson:"seq"`
					Count   int64 `bson:"count"`
				}
				err := x.collection(w.Collection).FindOne(ctx, bson.M{"_id": w.ID}).Decode(&doc)
				if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
					return nil, fmt.Errorf("read %s/%s: %w", w.Collection, w.ID, err)
				}
				st = logState{version: doc.Version, seq: doc.Seq, count: doc.Count}
			}
		}
		if int64(w.Version) <= st.version {
			learned[key] = st
			continue // a redelivery: this entry was written before
		}
		if st.count >= int64(a.PerBucket) {
			st.seq, st.count = st.seq+1, 0
		}
		if bucketSets[t] == nil {
			bucketSets[t] = map[int64]bson.M{}
			order = append(order, t)
		}
		if bucketSets[t][st.seq] == nil {
			bucketSets[t][st.seq] = bson.M{}
		}
		bucketSets[t][st.seq]["entries."+a.Key] = a.Value
		bucketSets[t][st.seq][projections.VersionField] = int64(w.Version)
		st.count++
		st.version = int64(w.Version)
		learned[key] = st
	}
	var ops []op
	for _, t := range order {
		seqs := slices.Sorted(maps.Keys(bucketSets[t]))
		for _, seq := range seqs {
			ops = append(ops, op{t.buckets, mongo.NewUpdateOneModel().SetFilter(bson.M{"_id": fmt.Sprintf("%s:%010d", t.id, seq)}).
				SetUpdate(bson.M{"$set": bucketSets[t][seq]}).SetUpsert(true)})
		}
		// The index last: until it moves, a redelivery lands where this did.
		st := learned[t.index+"\x00"+t.id]
		// Guarded like any document: where another executor moved the
		// index further, this one's entries were redeliveries.
		ops = append(ops, op{t.index, guarded(t.id, st.version, bson.M{"$set": bson.M{projections.VersionField: st.version, "seq": st.seq, "count": st.count}})})
	}
	return ops, nil
}

// bulkSize bounds one bulk write: FerretDB deadlocks its connection pool
// on commands of much more than 100 statements.
const bulkSize = 64

type op struct {
	collection string
	model      mongo.WriteModel
}

// bulk writes ops in order, as ordered bulk writes per run of one
// collection. A duplicate key is a guarded write that found its document
// newer; FerretDB then stops the bulk write without saying reliably where,
// so the run is written again one statement at a time, each skipped where
// its document is newer (what was written already is skipped too).
func (x *Executor) bulk(ctx context.Context, ops []op) error {
	for len(ops) > 0 {
		n := 1
		for n < len(ops) && n < bulkSize && ops[n].collection == ops[0].collection {
			n++
		}
		models := make([]mongo.WriteModel, n)
		for i := range n {
			models[i] = ops[i].model
		}
		coll := x.collection(ops[0].collection)
		_, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
		if err != nil && mongo.IsDuplicateKeyError(err) {
			err = nil
			for _, m := range models {
				if _, err = coll.BulkWrite(ctx, []mongo.WriteModel{m}); err != nil && !mongo.IsDuplicateKeyError(err) {
					break
				}
				err = nil
			}
		}
		if err != nil {
			x.forget() // some writes may have happened: read again
			return fmt.Errorf("write %s: %w", ops[0].collection, err)
		}
		ops = ops[n:]
	}
	return nil
}

// collection is the physical collection of a read model's collection: the
// generation's, when the read model has been rebuilt.
func (x *Executor) collection(name string) *mongo.Collection {
	return x.DB.Collection(name + x.Suffix)
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

// Retry applies a parked event again: decoded and reduced by today's code,
// written under the usual version guard. It fails as before if the event is
// still unusable.
func (x *Executor) Retry(ctx context.Context, e events.Envelope) error {
	x.setDefaults()
	rec, err := e.Decode()
	if err == nil && x.Projector.Personal {
		rec, err = x.open(ctx, rec)
	}
	if err != nil {
		return err
	}
	writes, err := x.Projector.Reduce(rec)
	if err != nil {
		return err
	}
	return x.apply(ctx, projections.Coalesce(writes), nil)
}

// CountParked counts the events parked now, by projector. It reads only
// the projector field of each parked document.
func CountParked(ctx context.Context, db *mongo.Database) (map[string]int, error) {
	cur, err := db.Collection(projections.ParkedCollection).Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"projector": 1}))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	counts := map[string]int{}
	for cur.Next(ctx) {
		var d struct {
			Projector string `bson:"projector"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, err
		}
		counts[d.Projector]++
	}
	return counts, cur.Err()
}
