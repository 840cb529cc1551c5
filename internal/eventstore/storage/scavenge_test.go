package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// picture is an incompressible event whose data starts with a marker that
// can be looked for in the store's files.
func picture(marker string) ProposedEvent {
	data := make([]byte, 64<<10)
	_, _ = rand.Read(data)
	copy(data, marker)
	return ProposedEvent{ID: uuid.New(), Type: "picture.stored", ContentType: "application/octet-stream", Data: data}
}

func setMetadata(t *testing.T, s *Store, stream, meta string) {
	t.Helper()
	if _, err := s.Append(context.Background(), "$$"+stream, Expected{Kind: ExpectAny},
		[]ProposedEvent{{ID: uuid.New(), Type: MetadataEventType, ContentType: "application/json", Data: []byte(meta)}}); err != nil {
		t.Fatal(err)
	}
}

// filesHolding lists the store's files that contain marker.
func filesHolding(t *testing.T, dir, marker string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile (Pebble's obsolete files)
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(marker)) {
			found = append(found, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// Events hidden by $tb or $maxCount are gone from the files after a
// scavenge (and after the store is closed and opened again, which lets go
// of a write-ahead log kept for reuse); what reads return stays, reads of
// the stream and of $all agree, and appends go on.
func TestScavengeRemovesHiddenEventsFromDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append(ctx, "pictures-a", Expected{Kind: ExpectAny}, []ProposedEvent{picture(fmt.Sprintf("MARKER-a-%d-", i))}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, "pictures-b", Expected{Kind: ExpectAny}, []ProposedEvent{picture(fmt.Sprintf("MARKER-b-%d-", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "untouched", Expected{Kind: ExpectAny}, []ProposedEvent{picture("MARKER-untouched-")}); err != nil {
		t.Fatal(err)
	}
	setMetadata(t, s, "pictures-a", `{"$tb":3}`)
	setMetadata(t, s, "pictures-b", `{"$maxCount":2}`)
	setMetadata(t, s, "pictures-b", `{"$maxCount":2,"note":"the second metadata event hides the first"}`)
	res, err := s.Scavenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 3+3+1 || res.Streams != 3 {
		t.Fatalf("scavenged %+v, want 7 events of 3 streams", res)
	}
	revisions := func(stream string) []uint64 {
		evs, err := s.ReadStream(stream, 0, false, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Revision)
		}
		return out
	}
	if a, b := revisions("pictures-a"), revisions("pictures-b"); !slices.Equal(a, []uint64{3, 4}) || !slices.Equal(b, []uint64{3, 4}) {
		t.Fatalf("after the scavenge: a %v, b %v", a, b)
	}
	all, err := s.ReadAll(0, false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Stream == "pictures-a" && e.Revision < 3 || e.Stream == "pictures-b" && e.Revision < 3 {
			t.Fatalf("$all still has %s@%d", e.Stream, e.Revision)
		}
	}
	if len(all) != 11+3-7 {
		t.Fatalf("$all has %d events", len(all))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Opening lets go of a write-ahead log kept for reuse; closing waits
	// for the files Pebble deletes.
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		for _, stream := range []string{"a", "b"} {
			marker := fmt.Sprintf("MARKER-%s-%d-", stream, i)
			if found := filesHolding(t, dir, marker); (len(found) > 0) != (i >= 3) {
				t.Errorf("%s in %v", marker, found)
			}
		}
	}
	if len(filesHolding(t, dir, "MARKER-untouched-")) == 0 {
		t.Error("an event nothing hides was removed")
	}
	s = openStore(t, dir)
	if res, err := s.Append(ctx, "pictures-a", Expected{Kind: ExpectRevision, Revision: 4}, []ProposedEvent{picture("MARKER-a-5-")}); err != nil || res.Revision != 5 {
		t.Fatalf("append after the scavenge: %+v %v", res, err)
	}
	again, err := s.Scavenge(ctx)
	if err != nil || again.Events != 0 {
		t.Fatalf("a second scavenge: %+v %v", again, err)
	}
}

// The store's newest event is never removed, even when hidden: the next
// append's position continues from it, after a restart too.
func TestScavengeKeepsTheNewestEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "x", Expected{Kind: ExpectAny}, events(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "x", Expected{Kind: ExpectAny}); err != nil { // soft delete: $tb hides all
		t.Fatal(err)
	}
	last := s.LastPosition()
	if _, err := s.Scavenge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if s.LastPosition() != last {
		t.Fatalf("last position %d after the restart, was %d", s.LastPosition(), last)
	}
	res, err := s.Append(ctx, "y", Expected{Kind: ExpectAny}, events(1))
	if err != nil || res.Position != last+1 {
		t.Fatalf("append at %d (%v), want %d", res.Position, err, last+1)
	}
}

func TestScavengeAfterCloseFails(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Scavenge(context.Background()); err != ErrClosed {
		t.Fatalf("err %v", err)
	}
}
