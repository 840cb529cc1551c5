package eventstore

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/accountd/accountd/internal/eventstore/storage"
)

// readChunk bounds how many events one storage read holds in memory.
const readChunk = 512

type streamsService struct {
	streams.UnimplementedStreamsServer
	store *storage.Store
	stop  <-chan struct{}
	log   *slog.Logger
	// streamReads counts reads of single streams (not $all, not
	// subscriptions): what a command's load costs.
	streamReads atomic.Uint64
}

// --- errors -----------------------------------------------------------------

// rpcError turns a storage error into the status and trailers EventStoreDB
// sends; setTrailer is grpc.SetTrailer for unary calls or the stream's.
func rpcError(err error, setTrailer func(metadata.MD)) error {
	var deleted *storage.StreamDeletedError
	var wrong *storage.WrongExpectedVersionError
	switch {
	case errors.As(err, &deleted):
		setTrailer(metadata.Pairs("exception", "stream-deleted", "stream-name", deleted.Stream))
		return status.Errorf(codes.FailedPrecondition, "Event stream '%s' is deleted.", deleted.Stream)
	case errors.As(err, &wrong):
		actual := "-1"
		if wrong.Current >= 0 {
			actual = strconv.FormatInt(wrong.Current, 10)
		}
		setTrailer(metadata.Pairs("exception", "wrong-expected-version", "stream-name", wrong.Stream,
			"expected-version", wrong.Expected.String(), "actual-version", actual))
		return status.Errorf(codes.FailedPrecondition, "Append failed due to WrongExpectedVersion. Stream: %s, Expected version: %s, Actual version: %s", wrong.Stream, wrong.Expected, actual)
	case errors.Is(err, storage.ErrMaxAppendSizeExceeded):
		setTrailer(metadata.Pairs("exception", "maximum-append-size-exceeded", "maximum-append-size", strconv.Itoa(storage.MaxAppendSize)))
		return status.Errorf(codes.InvalidArgument, "Maximum Append Size of %d Exceeded.", storage.MaxAppendSize)
	case errors.Is(err, storage.ErrInvalidStreamName):
		return status.Error(codes.InvalidArgument, "Stream name must not be empty.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, storage.ErrClosed):
		return status.Error(codes.Unavailable, "Server is shutting down.")
	default:
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Errorf(codes.Internal, "%v", err)
	}
}

func unaryTrailer(ctx context.Context) func(metadata.MD) {
	return func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// --- append -----------------------------------------------------------------

func (s *streamsService) Append(call streams.Streams_AppendServer) error {
	first, err := call.Recv()
	if err == io.EOF {
		return invalid("Append requires options as its first message.")
	}
	if err != nil {
		return err // the client went away: nothing was written
	}
	opts := first.GetOptions()
	if opts == nil {
		return invalid("Append requires options as its first message.")
	}
	expected, err := expectedFromAppend(opts)
	if err != nil {
		return err
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())

	// Read the whole request before answering: the client reports anything
	// sent earlier as Unknown. Past the size limit, keep draining but drop.
	var events []storage.ProposedEvent
	var bad error
	size, oversize := 0, false
	for {
		req, err := call.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		msg := req.GetProposedMessage()
		if msg == nil {
			bad = cmpErr(bad, invalid("Append options may only be sent once."))
			continue
		}
		if bad != nil || oversize {
			continue
		}
		ev, err := proposedEvent(msg)
		if err != nil {
			bad = err
			continue
		}
		size += storage.EventSize(ev.Type, ev.Data, ev.Metadata)
		if size > storage.MaxAppendSize {
			oversize, events = true, nil
			continue
		}
		events = append(events, ev)
	}
	if bad != nil {
		return bad
	}
	if oversize {
		return rpcError(storage.ErrMaxAppendSizeExceeded, call.SetTrailer)
	}
	res, err := s.store.Append(call.Context(), name, expected, events)
	var wrong *storage.WrongExpectedVersionError
	if errors.As(err, &wrong) {
		return call.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{
			WrongExpectedVersion: wrongExpectedVersion(wrong),
		}})
	}
	if err != nil {
		return rpcError(err, call.SetTrailer)
	}
	return call.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_Success_{Success: &streams.AppendResp_Success{
		CurrentRevisionOption: &streams.AppendResp_Success_CurrentRevision{CurrentRevision: res.Revision},
		PositionOption: &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: res.Position, PreparePosition: res.Position,
		}},
	}}})
}

func cmpErr(current, next error) error {
	if current != nil {
		return current
	}
	return next
}

func proposedEvent(msg *streams.AppendReq_ProposedMessage) (storage.ProposedEvent, error) {
	id, err := uuidFromProto(msg.GetId())
	if err != nil {
		return storage.ProposedEvent{}, err
	}
	if id == uuid.Nil {
		// EventStoreDB refuses it too; idempotency relies on distinct ids.
		return storage.ProposedEvent{}, invalid("Empty event id provided.")
	}
	eventType, ok := msg.GetMetadata()["type"]
	if !ok || eventType == "" {
		return storage.ProposedEvent{}, invalid("Event %s has no type.", uuid.UUID(id))
	}
	contentType, ok := msg.GetMetadata()["content-type"]
	if !ok || contentType == "" {
		return storage.ProposedEvent{}, invalid("Event %s has no content-type.", uuid.UUID(id))
	}
	return storage.ProposedEvent{
		ID:          id,
		Type:        eventType,
		ContentType: contentType,
		Data:        nonNil(msg.GetData()),
		Metadata:    nonNil(msg.GetCustomMetadata()),
	}, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func uuidFromProto(id *shared.UUID) ([16]byte, error) {
	var out [16]byte
	switch v := id.GetValue().(type) {
	case *shared.UUID_Structured_:
		binary.BigEndian.PutUint64(out[:8], uint64(v.Structured.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(out[8:], uint64(v.Structured.GetLeastSignificantBits()))
		return out, nil
	case *shared.UUID_String_:
		parsed, err := uuid.Parse(v.String_)
		if err != nil {
			return out, invalid("Event id %q is not a UUID.", v.String_)
		}
		return parsed, nil
	default:
		return out, invalid("Every event needs an id.")
	}
}

func uuidToProto(id [16]byte, structured bool) *shared.UUID {
	if !structured {
		return &shared.UUID{Value: &shared.UUID_String_{String_: uuid.UUID(id).String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func expectedFromAppend(o *streams.AppendReq_Options) (storage.Expected, error) {
	switch v := o.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Any:
		return storage.Expected{Kind: storage.ExpectAny}, nil
	case *streams.AppendReq_Options_NoStream:
		return storage.Expected{Kind: storage.ExpectNoStream}, nil
	case *streams.AppendReq_Options_StreamExists:
		return storage.Expected{Kind: storage.ExpectStreamExists}, nil
	case *streams.AppendReq_Options_Revision:
		return storage.Expected{Kind: storage.ExpectRevision, Revision: v.Revision}, nil
	}
	return storage.Expected{}, invalid("Expected stream revision is missing.")
}

func expectedFromDelete(o *streams.DeleteReq_Options) (storage.Expected, error) {
	switch v := o.GetExpectedStreamRevision().(type) {
	case *streams.DeleteReq_Options_Any:
		return storage.Expected{Kind: storage.ExpectAny}, nil
	case *streams.DeleteReq_Options_NoStream:
		return storage.Expected{Kind: storage.ExpectNoStream}, nil
	case *streams.DeleteReq_Options_StreamExists:
		return storage.Expected{Kind: storage.ExpectStreamExists}, nil
	case *streams.DeleteReq_Options_Revision:
		return storage.Expected{Kind: storage.ExpectRevision, Revision: v.Revision}, nil
	}
	return storage.Expected{}, invalid("Expected stream revision is missing.")
}

func expectedFromTombstone(o *streams.TombstoneReq_Options) (storage.Expected, error) {
	switch v := o.GetExpectedStreamRevision().(type) {
	case *streams.TombstoneReq_Options_Any:
		return storage.Expected{Kind: storage.ExpectAny}, nil
	case *streams.TombstoneReq_Options_NoStream:
		return storage.Expected{Kind: storage.ExpectNoStream}, nil
	case *streams.TombstoneReq_Options_StreamExists:
		return storage.Expected{Kind: storage.ExpectStreamExists}, nil
	case *streams.TombstoneReq_Options_Revision:
		return storage.Expected{Kind: storage.ExpectRevision, Revision: v.Revision}, nil
	}
	return storage.Expected{}, invalid("Expected stream revision is missing.")
}

func wrongExpectedVersion(w *storage.WrongExpectedVersionError) *streams.AppendResp_WrongExpectedVersion {
	out := &streams.AppendResp_WrongExpectedVersion{}
	if w.Current < 0 {
		out.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
		out.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	} else {
		out.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(w.Current)}
		out.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(w.Current)}
	}
	switch w.Expected.Kind {
	case storage.ExpectAny:
		out.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
		out.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
	case storage.ExpectStreamExists:
		out.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
		out.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	case storage.ExpectNoStream:
		// The 20.6 fields had no "no stream" expectation; -1 is how it was sent.
		out.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
		out.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	default:
		out.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: w.Expected.Revision}
		out.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: w.Expected.Revision}
	}
	return out
}

// --- delete -----------------------------------------------------------------

func (s *streamsService) Delete(ctx context.Context, req *streams.DeleteReq) (*streams.DeleteResp, error) {
	opts := req.GetOptions()
	if opts == nil {
		return nil, invalid("Delete requires options.")
	}
	expected, err := expectedFromDelete(opts)
	if err != nil {
		return nil, err
	}
	res, err := s.store.Delete(ctx, string(opts.GetStreamIdentifier().GetStreamName()), expected)
	if err != nil {
		return nil, rpcError(err, unaryTrailer(ctx))
	}
	return &streams.DeleteResp{PositionOption: &streams.DeleteResp_Position_{Position: &streams.DeleteResp_Position{
		CommitPosition: res.Position, PreparePosition: res.Position,
	}}}, nil
}

func (s *streamsService) Tombstone(ctx context.Context, req *streams.TombstoneReq) (*streams.TombstoneResp, error) {
	opts := req.GetOptions()
	if opts == nil {
		return nil, invalid("Tombstone requires options.")
	}
	expected, err := expectedFromTombstone(opts)
	if err != nil {
		return nil, err
	}
	res, err := s.store.Tombstone(ctx, string(opts.GetStreamIdentifier().GetStreamName()), expected)
	if err != nil {
		return nil, rpcError(err, unaryTrailer(ctx))
	}
	return &streams.TombstoneResp{PositionOption: &streams.TombstoneResp_Position_{Position: &streams.TombstoneResp_Position{
		CommitPosition: res.Position, PreparePosition: res.Position,
	}}}, nil
}

// --- read -------------------------------------------------------------------

// readRequest is a validated ReadReq.
type readRequest struct {
	stream     string // "" for $all
	all        bool
	backwards  bool
	structured bool
	count      uint64
	subscribe  bool
	filter     *eventFilter
	// Start point: fromStart / fromEnd, else from (revision or position).
	fromStart, fromEnd bool
	from               uint64
}

func parseRead(req *streams.ReadReq) (readRequest, error) {
	o := req.GetOptions()
	if o == nil {
		return readRequest{}, invalid("Read requires options.")
	}
	r := readRequest{structured: true}
	switch o.GetReadDirection() {
	case streams.ReadReq_Options_Forwards:
	case streams.ReadReq_Options_Backwards:
		r.backwards = true
	default:
		return r, invalid("Unknown read direction %d.", o.GetReadDirection())
	}
	if o.GetUuidOption().GetString_() != nil {
		r.structured = false
	}
	switch c := o.GetCountOption().(type) {
	case *streams.ReadReq_Options_Count:
		r.count = c.Count
	case *streams.ReadReq_Options_Subscription:
		r.subscribe = true
	default:
		return r, invalid("Read requires a count or subscription option.")
	}
	switch so := o.GetStreamOption().(type) {
	case *streams.ReadReq_Options_Stream:
		r.stream = string(so.Stream.GetStreamIdentifier().GetStreamName())
		if r.stream == "" {
			return r, invalid("Stream name must not be empty.")
		}
		switch rev := so.Stream.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_Start:
			r.fromStart = true
		case *streams.ReadReq_Options_StreamOptions_End:
			r.fromEnd = true
		case *streams.ReadReq_Options_StreamOptions_Revision:
			r.from = rev.Revision
		default:
			return r, invalid("Read of a stream requires a start, end or revision.")
		}
	case *streams.ReadReq_Options_All:
		r.all = true
		switch pos := so.All.GetAllOption().(type) {
		case *streams.ReadReq_Options_AllOptions_Start:
			r.fromStart = true
		case *streams.ReadReq_Options_AllOptions_End:
			r.fromEnd = true
		case *streams.ReadReq_Options_AllOptions_Position:
			r.from = pos.Position.GetCommitPosition()
		default:
			return r, invalid("Read of $all requires a start, end or position.")
		}
	default:
		return r, invalid("Read requires a stream or $all.")
	}
	if f := o.GetFilter(); f != nil {
		if !r.all {
			return r, invalid("Filters apply only to $all.")
		}
		filter, err := newEventFilter(f)
		if err != nil {
			return r, err
		}
		r.filter = filter
	}
	return r, nil
}

func (s *streamsService) Read(req *streams.ReadReq, call streams.Streams_ReadServer) error {
	r, err := parseRead(req)
	if err != nil {
		return err
	}
	switch {
	case r.subscribe && r.all:
		return s.subscribeAll(call, r)
	case r.subscribe:
		return s.subscribeStream(call, r)
	case r.all:
		return s.readAll(call, r)
	default:
		s.streamReads.Add(1)
		return s.readStream(call, r)
	}
}

func (s *streamsService) readStream(call streams.Streams_ReadServer, r readRequest) error {
	from := r.from
	switch {
	case r.fromStart:
		from = 0
	case r.fromEnd:
		from = math.MaxUint64
	}
	if r.fromEnd && !r.backwards {
		// Forwards from the end: nothing to read, but a missing stream is
		// still reported as missing.
		from = math.MaxUint64
	}
	remaining := r.count
	first := true
	for remaining > 0 || first {
		limit := int(min(remaining, readChunk))
		events, err := s.store.ReadStream(r.stream, from, r.backwards, max(limit, 0))
		if errors.Is(err, storage.ErrStreamNotFound) {
			return call.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			}}})
		}
		if err != nil {
			return rpcError(err, call.SetTrailer)
		}
		first = false
		for i := range events {
			if err := call.SendMsg(encodeReadEvent(&events[i], r.structured, false)); err != nil {
				return err
			}
		}
		remaining -= uint64(len(events))
		if len(events) < limit || len(events) == 0 {
			return nil
		}
		last := events[len(events)-1].Revision
		if r.backwards {
			if last == 0 {
				return nil
			}
			from = last - 1
		} else {
			from = last + 1
		}
	}
	return nil
}

func (s *streamsService) readAll(call streams.Streams_ReadServer, r readRequest) error {
	var from uint64
	switch {
	case r.fromStart && !r.backwards:
		from = 1
	case r.fromStart:
		return nil // nothing precedes the start
	case r.fromEnd && !r.backwards:
		return nil // nothing follows the end
	case r.fromEnd:
		from = math.MaxUint64
	case r.backwards:
		// Backwards from a position excludes it.
		if r.from == 0 {
			return nil
		}
		from = r.from - 1
	default:
		from = max(r.from, 1)
	}
	remaining := r.count
	for remaining > 0 {
		events, err := s.store.ReadAll(from, r.backwards, readChunk)
		if err != nil {
			return rpcError(err, call.SetTrailer)
		}
		for i := range events {
			if r.filter != nil && !r.filter.match(&events[i]) {
				continue
			}
			if err := call.SendMsg(encodeReadEvent(&events[i], r.structured, true)); err != nil {
				return err
			}
			remaining--
			if remaining == 0 {
				return nil
			}
		}
		if len(events) < readChunk {
			return nil
		}
		last := events[len(events)-1].Position
		if r.backwards {
			if last <= 1 {
				return nil
			}
			from = last - 1
		} else {
			from = last + 1
		}
	}
	return nil
}

// --- subscriptions ----------------------------------------------------------

func confirmation() *streams.ReadResp {
	return &streams.ReadResp{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString(),
	}}}
}

var caughtUp = &streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}

func checkpoint(pos uint64) *streams.ReadResp {
	return &streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{
		CommitPosition: pos, PreparePosition: pos,
	}}}
}

// wait blocks until the store changes, the client leaves or the server stops.
func (s *streamsService) wait(ctx context.Context, changed <-chan struct{}) error {
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.stop:
		return status.Error(codes.Unavailable, "Server is shutting down.")
	}
}

func (s *streamsService) subscribeStream(call streams.Streams_ReadServer, r readRequest) error {
	state, err := s.store.State(r.stream)
	if err != nil {
		return rpcError(err, call.SetTrailer)
	}
	if state.Tombstoned {
		return rpcError(&storage.StreamDeletedError{Stream: r.stream}, call.SetTrailer)
	}
	var next uint64 // subscriptions start strictly after the given revision
	switch {
	case r.fromStart:
		next = 0
	case r.fromEnd:
		next = uint64(state.LastRevision + 1)
	default:
		next = r.from + 1
	}
	if err := call.Send(confirmation()); err != nil {
		return err
	}
	ctx := call.Context()
	sentCaughtUp := false
	for {
		changed := s.store.Changed()
		events, tombstoned, err := s.store.ReadStreamForSubscription(r.stream, next, readChunk)
		if err != nil {
			return rpcError(err, call.SetTrailer)
		}
		for i := range events {
			if err := call.SendMsg(encodeReadEvent(&events[i], r.structured, false)); err != nil {
				return err
			}
			next = events[i].Revision + 1
		}
		if tombstoned {
			return rpcError(&storage.StreamDeletedError{Stream: r.stream}, call.SetTrailer)
		}
		if len(events) == readChunk {
			continue
		}
		if !sentCaughtUp {
			if err := call.Send(caughtUp); err != nil {
				return err
			}
			sentCaughtUp = true
		}
		if err := s.wait(ctx, changed); err != nil {
			return err
		}
	}
}

func (s *streamsService) subscribeAll(call streams.Streams_ReadServer, r readRequest) error {
	var next uint64
	switch {
	case r.fromStart:
		next = 1
	case r.fromEnd:
		next = s.store.LastPosition() + 1
	default:
		next = r.from + 1
	}
	if err := call.Send(confirmation()); err != nil {
		return err
	}
	ctx := call.Context()
	sentCaughtUp := false
	var scanned uint64
	for {
		changed := s.store.Changed()
		events, err := s.store.ReadAll(next, false, readChunk)
		if err != nil {
			return rpcError(err, call.SetTrailer)
		}
		for i := range events {
			e := &events[i]
			next = e.Position + 1
			if r.filter == nil || r.filter.match(e) {
				if err := call.SendMsg(encodeReadEvent(e, r.structured, true)); err != nil {
					return err
				}
			}
			if r.filter != nil {
				scanned++
				if scanned >= r.filter.checkpointInterval {
					scanned = 0
					if err := call.Send(checkpoint(e.Position)); err != nil {
						return err
					}
				}
			}
		}
		if len(events) == readChunk {
			continue
		}
		if !sentCaughtUp {
			if r.filter != nil && next > 1 {
				if err := call.Send(checkpoint(next - 1)); err != nil {
					return err
				}
			}
			if err := call.Send(caughtUp); err != nil {
				return err
			}
			sentCaughtUp = true
		}
		if err := s.wait(ctx, changed); err != nil {
			return err
		}
	}
}

// --- filters ----------------------------------------------------------------

type eventFilter struct {
	byStream           bool
	prefixes           []string
	regex              *regexp.Regexp
	checkpointInterval uint64 // events scanned between checkpoints
}

func newEventFilter(f *streams.ReadReq_Options_FilterOptions) (*eventFilter, error) {
	var expr *streams.ReadReq_Options_FilterOptions_Expression
	out := &eventFilter{}
	switch v := f.GetFilter().(type) {
	case *streams.ReadReq_Options_FilterOptions_StreamIdentifier:
		out.byStream, expr = true, v.StreamIdentifier
	case *streams.ReadReq_Options_FilterOptions_EventType:
		expr = v.EventType
	default:
		return nil, invalid("A filter needs a stream or event type expression.")
	}
	if expr.GetRegex() != "" && len(expr.GetPrefix()) > 0 {
		return nil, invalid("A filter takes a regex or prefixes, not both.")
	}
	if expr.GetRegex() == "" && len(expr.GetPrefix()) == 0 {
		return nil, invalid("A filter needs a regex or at least one prefix.")
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, invalid("Invalid filter regex: %v.", err)
		}
		out.regex = re
	}
	out.prefixes = expr.GetPrefix()
	window := uint64(32) // EventStoreDB's default search window
	if m, ok := f.GetWindow().(*streams.ReadReq_Options_FilterOptions_Max); ok {
		if m.Max == 0 {
			return nil, invalid("The filter's max search window must be positive.")
		}
		window = uint64(m.Max)
	}
	multiplier := uint64(max(f.GetCheckpointIntervalMultiplier(), 1))
	out.checkpointInterval = window * multiplier
	return out, nil
}

func (f *eventFilter) match(e *storage.RecordedEvent) bool {
	subject := e.Type
	if f.byStream {
		subject = e.Stream
	}
	if f.regex != nil {
		return f.regex.MatchString(subject)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}
