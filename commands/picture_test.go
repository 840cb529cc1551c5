package commands_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/picture"
)

// pictureOf is a small PNG of one colour: each shade another picture.
func pictureOf(t *testing.T, shade int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(shade), 10, 200, 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (hs *harness) setPicture(id string, shade int) commands.PictureResult {
	hs.t.Helper()
	res, err := hs.h.SetPicture(hs.ctx, commands.SetPicture{UserID: id, Data: pictureOf(hs.t, shade)}, meta())
	if err != nil {
		hs.t.Fatal(err)
	}
	return res
}

// storedRevisions are the revisions of the pictures stream a read returns.
func (hs *harness) storedRevisions(id string) []uint64 {
	hs.t.Helper()
	var out []uint64
	for _, e := range hs.then(events.PicturesStream(id), commands.NoStream) {
		out = append(out, e.Revision)
	}
	return out
}

// The pictures stream keeps the current picture and the one it replaced,
// however many are uploaded: storage per account is bounded. The same
// picture again changes nothing; after a removal the next picture has
// nothing to keep but itself.
func TestSetPictureKeepsTheCurrentAndThePrevious(t *testing.T) {
	hs := newHarness(t)
	id := hs.givenUser("ada")
	var results []commands.PictureResult
	for shade := range 5 {
		results = append(results, hs.setPicture(id, shade*40))
	}
	if got := hs.storedRevisions(id); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("pictures stream after 5 uploads: revisions %v, want [3 4]", got)
	}
	current := results[4].User
	if current.Picture.Revision != 4 || current.PictureKeepFrom != 3 {
		t.Fatalf("state %+v", current)
	}
	// Another replica (no cache) reads the current and the previous
	// picture from the log, and no older one.
	other, err := commands.New(commands.Config{Log: hs.log, PasswordParams: cheapHashing})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		b, err := other.ReadPicture(hs.ctx, id, r.User.Picture.Revision, r.Picture.SHA256)
		switch {
		case i >= 3 && (err != nil || !bytes.Equal(b, r.Picture.Data)):
			t.Fatalf("picture %d: %v", i, err)
		case i < 3 && !errors.Is(err, commands.ErrPictureNotFound):
			t.Fatalf("picture %d, truncated away: %v", i, err)
		}
	}
	// The current picture again: no event, nothing truncated.
	again := hs.setPicture(id, 4*40)
	if again.Position != 0 || !slices.Equal(hs.storedRevisions(id), []uint64{3, 4}) {
		t.Fatalf("the same picture again: %+v, stream %v", again.Result, hs.storedRevisions(id))
	}
	// After a removal, the next picture replaces none.
	if _, err := hs.h.RemovePicture(hs.ctx, commands.RemovePicture{UserID: id}, meta()); err != nil {
		t.Fatal(err)
	}
	if got := hs.storedRevisions(id); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("after the removal: %v", got)
	}
	hs.setPicture(id, 7)
	if got := hs.storedRevisions(id); !slices.Equal(got, []uint64{5}) {
		t.Fatalf("after a removal and an upload: %v, want [5]", got)
	}
}

// userStreamRace lets another replica act just before the command's first
// append to a user stream.
type userStreamRace struct {
	commands.EventLog
	once  sync.Once
	racer func(ctx context.Context)
}

func (l *userStreamRace) Append(ctx context.Context, stream string, expected commands.Version, meta events.Metadata, ps ...events.Payload) (commands.Appended, error) {
	if events.Category(stream) == events.UserCategory && l.racer != nil {
		l.once.Do(func() { l.racer(ctx) })
	}
	return l.EventLog.Append(ctx, stream, expected, meta, ps...)
}

// An upload whose bytes were stored before two uploads on another replica
// truncated the stream past them stores them again before making them
// current: the current picture is never one the stream has dropped.
func TestAPictureOutrunByOtherUploadsIsStoredAgain(t *testing.T) {
	mem := eventlog.NewMemory()
	race := &userStreamRace{EventLog: mem}
	hs := newHarnessOn(t, race, commands.Config{})
	id := hs.givenUser("ada")
	elsewhere, err := commands.New(commands.Config{Log: mem, PasswordParams: cheapHashing})
	if err != nil {
		t.Fatal(err)
	}
	race.racer = func(ctx context.Context) {
		for _, shade := range []int{1, 2} {
			if _, err := elsewhere.SetPicture(ctx, commands.SetPicture{UserID: id, Data: pictureOf(t, shade)}, meta()); err != nil {
				t.Error(err)
			}
		}
	}
	res := hs.setPicture(id, 3) // stored at 0; meanwhile 1 and 2 are stored and made current, keeping from 1
	if res.User.Picture.Revision != 3 || res.Picture.SHA256 != res.User.Picture.SHA256 {
		t.Fatalf("current picture %+v", res.User.Picture)
	}
	if got := hs.storedRevisions(id); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("pictures stream %v, want [2 3]", got)
	}
	b, err := elsewhere.ReadPicture(hs.ctx, id, res.User.Picture.Revision, res.Picture.SHA256)
	if err != nil || !bytes.Equal(b, res.Picture.Data) {
		t.Fatalf("the current picture reads back: %v", err)
	}
}

// Over the account's limit: 429's error, nothing decoded or stored; the
// limit is the account's, not the process's.
func TestPictureUploadLimitPerAccount(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{PictureUploadLimit: commands.Rate{Burst: 2, Every: 30 * time.Minute}})
	ada, bob := hs.givenUser("ada"), hs.givenUser("bob")
	hs.setPicture(ada, 1)
	hs.setPicture(ada, 2)
	_, err := hs.h.SetPicture(hs.ctx, commands.SetPicture{UserID: ada, Data: pictureOf(t, 3)}, meta())
	var te *commands.ThrottledError
	if !errors.As(err, &te) || te.Scope != commands.ScopePicture || te.RetryAfter <= 0 || te.RetryAfter > 30*time.Minute {
		t.Fatalf("third upload in the hour: %v", err)
	}
	if got := hs.storedRevisions(ada); !slices.Equal(got, []uint64{0, 1}) {
		t.Fatalf("stored %v", got)
	}
	hs.setPicture(bob, 1) // another account has its own
	hs.now = hs.now.Add(30 * time.Minute)
	hs.setPicture(ada, 3) // one more after its interval
}

// Every decode slot taken for the whole wait: the busy error, with when
// to try again; nothing stored, no upload of the account's limit spent,
// and the next upload once a slot is free goes through.
func TestPictureBusyWhenEveryDecodeSlotIsTaken(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{PictureDecodes: 2, PictureQueueWait: 20 * time.Millisecond,
		PictureUploadLimit: commands.Rate{Burst: 1, Every: time.Hour}})
	id := hs.givenUser("ada")
	gate := hs.h.PictureGate()
	var leaves []func()
	for range 2 {
		leave, err := gate.Enter(hs.ctx)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leave)
	}
	_, err := hs.h.SetPicture(hs.ctx, commands.SetPicture{UserID: id, Data: pictureOf(t, 1)}, meta())
	var be *commands.BusyError
	if !errors.As(err, &be) || be.RetryAfter != 20*time.Millisecond {
		t.Fatalf("with both slots taken: %v", err)
	}
	if got := hs.storedRevisions(id); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	leaves[0]()
	hs.setPicture(id, 1) // the account's one upload was not spent on the refusal
	leaves[1]()
	if gate.Busy() != 0 {
		t.Fatalf("%d slots left taken", gate.Busy())
	}
}

// A picture that takes longer than PictureTimeout is refused as too
// complex; its slot is free again and nothing is stored.
func TestPictureOverTimeIsRefusedAsTooComplex(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{PictureTimeout: time.Millisecond})
	id := hs.givenUser("ada")
	big := image.NewNRGBA(image.Rect(0, 0, 2000, 2000)) // a few hundred ms to decode and scale
	for y := range 2000 {
		for x := range 2000 {
			big.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, big); err != nil {
		t.Fatal(err)
	}
	_, err := hs.h.SetPicture(hs.ctx, commands.SetPicture{UserID: id, Data: b.Bytes()}, meta())
	if !errors.Is(err, picture.ErrTooComplex) || !picture.Refused(err) {
		t.Fatalf("err %v", err)
	}
	if v, _ := picture.Refusal(err, "body"); v.Code != "image.too_complex" {
		t.Fatalf("refusal %+v", v)
	}
	if hs.h.PictureGate().Busy() != 0 || len(hs.storedRevisions(id)) != 0 {
		t.Fatalf("slots %d, stored %v", hs.h.PictureGate().Busy(), hs.storedRevisions(id))
	}
	// The caller going away is not the picture's fault.
	gone, cancel := context.WithCancel(hs.ctx)
	cancel()
	if _, err := hs.h.SetPicture(gone, commands.SetPicture{UserID: id, Data: pictureOf(t, 1)}, meta()); !errors.Is(err, context.Canceled) || picture.Refused(err) {
		t.Fatalf("a cancelled upload: %v", err)
	}
}
