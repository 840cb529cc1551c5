// Package relay forwards the event log ($all, system events excluded) to a
// JetStream stream, in order, each message carrying the event id as
// Nats-Msg-Id. Its checkpoint is the last message in JetStream itself, so a
// restart resumes exactly after what was durably forwarded.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/events"
)

// PositionHeader carries the event's $all position on every message.
const PositionHeader = "Es-Position"

// Config wires a relay.
type Config struct {
	Log       *esdb.Client
	JetStream jetstream.JetStream
	// Stream is the JetStream stream name; subjects are Subject.<category>.
	Stream  string
	Subject string
	Logger  *slog.Logger
	// MaxInFlight bounds unacknowledged publishes.
	MaxInFlight int
	// AckTimeout bounds the wait for a publish's acknowledgement (default
	// 10 s, beyond a JetStream leader election); past it the relay fails
	// and its supervisor resumes it from the stream's tail.
	AckTimeout time.Duration
}

// Relay runs until its context ends.
type Relay struct {
	cfg Config

	mu       sync.Mutex
	position uint64    // $all position of the last event JetStream acknowledged
	eventAt  time.Time // its creation time
}

// New returns a relay; call EnsureStream before Run.
func New(cfg Config) *Relay {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	return &Relay{cfg: cfg}
}

// ErrReplicasNotRaised: the stream serves, but JetStream did not raise its
// copies to the number asked for (a NATS node down, say); the next start
// tries again.
var ErrReplicasNotRaised = errors.New("the stream keeps fewer copies than asked for")

// EnsureStream creates the JetStream stream the relay feeds, or brings an
// existing one to this configuration in place (its messages stay), with
// replicas copies (3 on a three-node NATS cluster, so the feed survives a
// node). It never lowers the copies an operator gave it, and changes
// nothing when the stream is already so, so replicas starting at once agree
// (one raises the copies, the others find it done). When only raising the
// copies fails it returns the stream with an error wrapping
// ErrReplicasNotRaised: the stream serves as it was.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name, subject string, replicas int) (jetstream.Stream, error) {
	want := jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{subject + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Duplicates: 10 * time.Minute,
		Replicas:   max(replicas, 1),
	}
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		stream, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another replica created it first, maybe otherwise.
			stream, err = js.Stream(ctx, name)
		}
	}
	if err != nil {
		return nil, err
	}
	have := stream.CachedInfo().Config
	// Start from what the stream has, so settings this code does not
	// manage (an operator's limits, placement) stay.
	next := have
	next.Subjects, next.Storage, next.Retention, next.Duplicates = want.Subjects, want.Storage, want.Retention, want.Duplicates
	if !sameFeed(have, next) {
		if stream, err = js.UpdateStream(ctx, next); err != nil {
			return nil, err
		}
		have = stream.CachedInfo().Config
	}
	if have.Replicas >= want.Replicas {
		return stream, nil
	}
	next = have
	next.Replicas = want.Replicas
	raised, err := js.UpdateStream(ctx, next)
	if err == nil {
		return raised, nil
	}
	// Several replicas raising it at once: one wins, the others find it
	// done.
	if again, ierr := js.Stream(ctx, name); ierr == nil && again.CachedInfo().Config.Replicas >= want.Replicas {
		return again, nil
	}
	return stream, fmt.Errorf("%w: stream %s has %d, want %d: %v", ErrReplicasNotRaised, name, have.Replicas, want.Replicas, err)
}

// sameFeed says whether two configurations agree on what EnsureStream
// manages besides the copies.
func sameFeed(a, b jetstream.StreamConfig) bool {
	return slices.Equal(a.Subjects, b.Subjects) && a.Storage == b.Storage && a.Retention == b.Retention && a.Duplicates == b.Duplicates
}

// SubjectFor maps a stream name to its subject: Subject.<category>.
func SubjectFor(prefix, stream string) string {
	category, _, _ := strings.Cut(stream, "-")
	clean := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, category)
	if clean == "" {
		clean = "_"
	}
	return prefix + "." + clean
}

// Run forwards events from its checkpoint until ctx ends (nil) or anything
// fails (an error: run it under a supervisor, which resumes it from the
// checkpoint). One relay runs at a time (the service elects it with a
// lease); should another publish meanwhile (a leader that lost its lease
// and has not noticed yet), JetStream refuses the loser's next publish
// (expected last sequence, message id) and the loser starts again from the
// stream's new tail, quietly.
func (r *Relay) Run(ctx context.Context) error {
	for {
		err := r.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, ErrFenced) {
			return err
		}
		r.cfg.Logger.Info("relay: another relay published first; resuming from the stream's tail", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ErrFenced: JetStream already holds what this relay tried to publish, or
// more (another relay got there first).
var ErrFenced = errors.New("the stream moved on without this relay")

// duplicateInProcess: a publish with the same message id is being stored
// (on a clustered stream), by another relay.
const duplicateInProcess jetstream.ErrorCode = 10158

// fenced tells a refused publish (wrong last sequence: the stream's tail is
// not where this relay thought; the same id being stored by another) from
// a failure.
func fenced(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant, duplicateInProcess:
		return true
	}
	return false
}

// Position is the $all position of the last event JetStream acknowledged,
// and the time it was written.
func (r *Relay) Position() (uint64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.position, r.eventAt
}

func (r *Relay) forwarded(position uint64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if position > r.position {
		r.position, r.eventAt = position, at
	}
}

// inFlight is a publish waiting for JetStream's acknowledgement.
type inFlight struct {
	ack      jetstream.PubAckFuture
	position uint64
	at       time.Time
}

// checkpoint returns the $all position and JetStream sequence of the last
// forwarded event.
func (r *Relay) checkpoint(ctx context.Context) (esdb.AllPosition, uint64, error) {
	stream, err := r.cfg.JetStream.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return nil, 0, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return esdb.Start{}, last, nil
	}
	msg, err := stream.GetMsg(ctx, last)
	if err != nil {
		return nil, 0, fmt.Errorf("read last forwarded message: %w", err)
	}
	pos, err := strconv.ParseUint(msg.Header.Get(PositionHeader), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("last forwarded message has no position: %w", err)
	}
	return esdb.Position{Commit: pos, Prepare: pos}, last, nil
}

// Tail is the $all position of the last event in the stream and when that
// event was written (zero when unknown): how far the relays, whichever
// replica runs one, have come. Every replica reads the same.
func Tail(ctx context.Context, js jetstream.JetStream, streamName string) (uint64, time.Time, error) {
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return 0, time.Time{}, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	if info.State.Msgs == 0 {
		return 0, time.Time{}, nil
	}
	msg, err := stream.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read last forwarded message: %w", err)
	}
	pos, err := strconv.ParseUint(msg.Header.Get(PositionHeader), 10, 64)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("last forwarded message has no position: %w", err)
	}
	var env events.Envelope
	var at time.Time
	if json.Unmarshal(msg.Data, &env) == nil {
		if meta, err := events.DecodeMetadata(env.Metadata); err == nil {
			at = meta.Time
		}
	}
	return pos, at, nil
}

func (r *Relay) runOnce(ctx context.Context) error {
	from, seq, err := r.checkpoint(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := r.cfg.Log.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: from, Filter: esdb.ExcludeSystemEventsFilter()})
	if err != nil {
		return err
	}
	defer sub.Close()
	r.cfg.Logger.Info("relay started", "from", fmt.Sprint(from), "jetstream_seq", seq)

	// Each publish expects the previous sequence, so if one fails every later
	// one fails too and JetStream never holds the log out of order.
	if p, ok := from.(esdb.Position); ok {
		r.forwarded(p.Commit, time.Time{})
	}
	pending := make(chan inFlight, r.cfg.MaxInFlight)
	failed := make(chan error, 1)
	go func() {
		for f := range pending {
			// A publish the stream's leader took and then died with (kill
			// -9 of a NATS node) is never acknowledged, and nats.go only
			// fails what is pending when this connection's own server goes:
			// without a bound the relay waited for ever, holding its lease.
			unanswered := time.NewTimer(r.cfg.AckTimeout)
			select {
			case <-unanswered.C:
				select {
				case failed <- fmt.Errorf("no acknowledgement of the event at %d in %s", f.position, r.cfg.AckTimeout):
				default:
				}
				cancel()
				for range pending {
				}
				return
			case ack := <-f.ack.Ok():
				unanswered.Stop()
				if ack != nil && ack.Duplicate {
					// Stored before, by another relay: what follows
					// may be too.
					select {
					case failed <- fmt.Errorf("%w: event at %d was a duplicate", ErrFenced, f.position):
					default:
					}
					cancel()
					for range pending {
					}
					return
				}
				r.forwarded(f.position, f.at)
			case err := <-f.ack.Err():
				unanswered.Stop()
				if fenced(err) {
					err = fmt.Errorf("%w: %v", ErrFenced, err)
				}
				select {
				case failed <- err:
				default:
				}
				cancel()
				for range pending {
				}
				return
			}
		}
	}()
	defer close(pending)
	for {
		ev := sub.Recv()
		if ev.SubscriptionDropped != nil {
			select {
			case err := <-failed:
				return fmt.Errorf("publish: %w", err)
			default:
			}
			return fmt.Errorf("subscription dropped: %w", ev.SubscriptionDropped.Error)
		}
		if ev.EventAppeared == nil {
			continue
		}
		msg, err := message(r.cfg.Subject, ev.EventAppeared.Event)
		if err != nil {
			return err
		}
		e := ev.EventAppeared.Event
		f, err := r.cfg.JetStream.PublishMsgAsync(msg,
			jetstream.WithMsgID(e.EventID.String()),
			jetstream.WithExpectLastSequence(seq))
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		seq++
		select {
		case pending <- inFlight{ack: f, position: e.Position.Commit, at: e.CreatedDate}:
		case <-ctx.Done():
			select {
			case err := <-failed:
				return fmt.Errorf("publish: %w", err)
			default:
				return ctx.Err()
			}
		}
	}
}

func message(subject string, e *esdb.RecordedEvent) (*nats.Msg, error) {
	data := json.RawMessage(e.Data)
	if !json.Valid(data) {
		// Not JSON: pass it as a JSON string; projectors park what they
		// cannot read rather than the relay stopping.
		quoted, _ := json.Marshal(string(e.Data))
		data = quoted
	}
	if e.EventType == events.PictureStored {
		data = withoutPictureBytes(data)
	}
	var meta json.RawMessage
	if len(e.UserMetadata) > 0 && json.Valid(e.UserMetadata) {
		meta = e.UserMetadata
	}
	body, err := json.Marshal(events.Envelope{
		ID:       e.EventID.String(),
		Stream:   e.StreamID,
		Type:     e.EventType,
		Revision: e.EventNumber,
		Position: e.Position.Commit,
		Data:     data,
		Metadata: meta,
	})
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(SubjectFor(subject, e.StreamID))
	msg.Data = body
	msg.Header.Set(PositionHeader, strconv.FormatUint(e.Position.Commit, 10))
	return msg, nil
}

// withoutPictureBytes drops a stored picture's bytes from what JetStream
// gets: nothing reads them there (pictures are read from the log by
// revision), and JetStream keeps every message, while the log keeps only
// an account's current and previous pictures (commands.SetPicture).
func withoutPictureBytes(data json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return data
	}
	delete(fields, "data")
	out, err := json.Marshal(fields)
	if err != nil {
		return data
	}
	return out
}
