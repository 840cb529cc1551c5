package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestEventSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		eventType  string
		data, meta int
		want       int
	}{
		// EventStoreDB's own EventSizeOnDiskTests case.
		{"data, metadata and type", "type", 3, 2, 13},
		{"type only", "type", 0, 0, 8},
		{"non-ASCII type counts UTF-16 units", "Ünï", 0, 0, 6},
		{"astral type character is two units", "𝄞", 1, 0, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := EventSize(tc.eventType, make([]byte, tc.data), make([]byte, tc.meta))
			if got != tc.want {
				t.Errorf("EventSize = %d, want %d", got, tc.want)
			}
		})
	}
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func events(n int) []ProposedEvent {
	out := make([]ProposedEvent, n)
	for i := range out {
		out[i] = ProposedEvent{ID: uuid.New(), Type: "t", ContentType: "application/json", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
	}
	return out
}

func TestReopenContinuesTheLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := openStore(t, dir)
	if s.LastPosition() != 0 {
		t.Fatalf("fresh store at position %d", s.LastPosition())
	}
	res, err := s.Append(ctx, "a", Expected{Kind: ExpectNoStream}, events(3))
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 2 || res.Position != 3 || s.LastPosition() != 3 {
		t.Fatalf("append result %+v, last position %d", res, s.LastPosition())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "a", Expected{}, events(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("append to a closed store: %v, want ErrClosed", err)
	}

	s = openStore(t, dir)
	if s.LastPosition() != 3 {
		t.Fatalf("reopened at position %d, want 3", s.LastPosition())
	}
	res, err = s.Append(ctx, "a", Expected{Kind: ExpectRevision, Revision: 2}, events(1))
	if err != nil || res.Revision != 3 || res.Position != 4 {
		t.Fatalf("append after reopen: %+v, %v", res, err)
	}
	got, err := s.ReadStream("a", 0, false, 10)
	if err != nil || len(got) != 4 {
		t.Fatalf("read after reopen: %d events, %v", len(got), err)
	}
}

// Writes queued together land in one group commit; each must see the ones
// before it.
func TestGroupCommitSeesEarlierWrites(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	const writers = 50
	var wg sync.WaitGroup
	results := make(chan error, writers)
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Append(ctx, "contended", Expected{Kind: ExpectNoStream}, events(1))
			results <- err
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		var wrong *WrongExpectedVersionError
		switch {
		case err == nil:
			won++
		case errors.As(err, &wrong):
		default:
			t.Errorf("append: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d NoStream appends won, want 1", won)
	}
	got, err := s.ReadStream("contended", 0, false, 100)
	if err != nil || len(got) != 1 {
		t.Fatalf("stream has %d events (%v), want 1", len(got), err)
	}
}

func TestChangedFiresOnCommit(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	changed := s.Changed()
	select {
	case <-changed:
		t.Fatal("changed before any write")
	default:
	}
	if _, err := s.Append(context.Background(), "a", Expected{}, events(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no change notification after a commit")
	}
	// A failed write commits nothing and notifies nobody.
	changed = s.Changed()
	if _, err := s.Append(context.Background(), "a", Expected{Kind: ExpectNoStream}, events(1)); err == nil {
		t.Fatal("NoStream append to an existing stream succeeded")
	}
	select {
	case <-changed:
		t.Error("notified without a commit")
	default:
	}
}
