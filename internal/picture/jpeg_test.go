package picture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"testing"
	"time"
)

// The scans counted are those image/jpeg runs: libjpeg's scripts, and
// crafted files that hide scans behind the liberties the decoder takes.
func TestInspectJPEGCountsScans(t *testing.T) {
	bomb := progressiveJPEG(64, 64, []byte{0x11}, 40)
	sos := bytes.Index(bomb, []byte{0xff, 0xda})
	third := sos + 2 + bytes.Index(bomb[sos+2:], []byte{0xff, 0xda})
	third += 2 + bytes.Index(bomb[third+2:], []byte{0xff, 0xda})
	for _, tt := range []struct {
		name  string
		in    []byte
		scans int
	}{
		{"libjpeg progressive, colour", read(t, "video-001.progressive.jpeg"), 10},
		{"libjpeg progressive, 4:2:0", read(t, "video-001.q50.420.progressive.jpeg"), 10},
		{"libjpeg progressive, grey", read(t, "video-005.gray.q50.progressive.jpeg"), 6},
		{"libjpeg progressive, separate DC scans", read(t, "video-001.separate.dc.progression.progressive.jpeg"), 14},
		{"libjpeg sequential with restart markers", read(t, "video-001.restart2.jpeg"), 1},
		{"libjpeg CMYK", read(t, "video-001.cmyk.jpeg"), 1},
		{"Go's encoder", encodeJPEG(t, gradient(64, 64, false)), 1},
		{"40 empty scans", bomb, 33}, // counting stops past MaxScans
		{"junk between segments", splice(bomb, sos, []byte("junk\xff\x00junk")), 33},
		{"fill bytes before a marker", splice(bomb, sos, []byte{0xff, 0xff, 0xff}), 33},
		{"a stray restart marker", splice(bomb, sos, []byte{0xff, 0xd3}), 33},
		{"cut short in the third scan's header", bomb[:third+3], 2},
		{"no frame header", []byte("\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x00"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := inspectJPEG(tt.in).scans; got != tt.scans {
				t.Fatalf("%d scans, want %d", got, tt.scans)
			}
		})
	}
}

func splice(b []byte, at int, insert []byte) []byte {
	return append(append(append([]byte{}, b[:at]...), insert...), b[at:]...)
}

// The budget counts what image/jpeg really allocates: measured, to within
// the decoder's own tables.
func TestJPEGDecodedBytesIsWhatTheDecoderAllocates(t *testing.T) {
	photo := image.NewRGBA(image.Rect(0, 0, 1999, 1501))
	for i := range photo.Pix {
		photo.Pix[i] = uint8(i)
	}
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"sequential 4:2:0", encodeJPEG(t, photo)},
		{"sequential grey", encodeJPEG(t, flat(1999, 1501))},
		{"progressive grey", progressiveJPEG(1999, 1501, []byte{0x11}, 6)},
		{"progressive 4:4:4", progressiveJPEG(1999, 1501, []byte{0x11, 0x11, 0x11}, 6)},
		{"progressive 4:2:0", progressiveJPEG(1999, 1501, []byte{0x22, 0x11, 0x11}, 6)},
		{"progressive 4:2:2", progressiveJPEG(1999, 1501, []byte{0x21, 0x11, 0x11}, 6)},
		{"libjpeg progressive", read(t, "video-001.progressive.jpeg")},
		{"libjpeg CMYK", read(t, "video-001.cmyk.jpeg")},
		{"libjpeg RGB", read(t, "video-001.rgb.jpeg")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := inspectJPEG(tt.in).decodedBytes()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := jpeg.Decode(bytes.NewReader(tt.in)); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			got := int64(after.TotalAlloc - before.TotalAlloc)
			const tables = 64 << 10 // Huffman and quantisation tables, buffers
			if got < want || got > want+tables {
				t.Fatalf("decoding allocated %d bytes, the budget counts %d", got, want)
			}
		})
	}
}

// The bomb: grey, within 8000 x 8000 and, at a byte a pixel,
// within the budget; but progressive, so the decoder also keeps 4 bytes a
// coefficient. Refused now before decoding.
func TestProgressiveBombIsRefusedBeforeDecoding(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      []byte
		refusal string
	}{
		{"5792 x 5792 grey, one empty scan", progressiveJPEG(5792, 5792, []byte{0x11}, 1), "image.too_large_to_decode"},
		{"2584 x 2584 grey (in budget), 33 empty scans", progressiveJPEG(2584, 2584, []byte{0x11}, MaxScans+1), "image.too_many_scans"},
		{"5792 x 5792 grey, 2000 empty scans", progressiveJPEG(5792, 5792, []byte{0x11}, 2000), "image.too_many_scans"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Process(t.Context(), tt.in)
			if v, ok := Refusal(err, "body"); !ok || v.Code != tt.refusal {
				t.Fatalf("err %v, want %s", err, tt.refusal)
			}
		})
	}
	// What the budget and the scan limit still admit decodes.
	if _, err := Process(t.Context(), progressiveJPEG(2584, 2584, []byte{0x11}, MaxScans)); err != nil {
		t.Fatal(err)
	}
}

// A sequential JPEG codes each component in one scan; one that codes a
// component again (the whole image decoded and transformed once more per
// scan) is no JPEG an encoder writes.
func TestSequentialJPEGWithARepeatedScanIsCorrupt(t *testing.T) {
	jpg := encodeJPEG(t, flat(64, 64))
	sos := bytes.Index(jpg, []byte{0xff, 0xda})
	eoi := len(jpg) - 2
	twice := append(append([]byte{}, jpg[:eoi]...), jpg[sos:]...)
	if _, err := Process(t.Context(), twice); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v", err)
	}
}

// The decoder stops at its next read once the context ends: it has not
// read the whole upload when it gives up. Without the check it would run
// every scan (seconds).
func TestDecodeStopsWhenTheContextEnds(t *testing.T) {
	bomb := progressiveJPEG(2590, 2590, []byte{0x11}, 2000)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	r := &stoppable{ctx: ctx, data: bomb}
	_, err := jpeg.Decode(r)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if r.off >= len(bomb) {
		t.Fatalf("the decoder read all %d bytes before stopping", len(bomb))
	}
	// Process says so with the context's error.
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Process(ended, encodePNG(t, gradient(64, 64, false))); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

// The crafted files the API's tests upload are what the generator writes.
func TestCraftedTestdataIsTheGenerators(t *testing.T) {
	for name, want := range map[string][]byte{
		"progressive-5792x5792-grey-1-empty-scan.jpeg":   progressiveJPEG(5792, 5792, []byte{0x11}, 1),
		"progressive-2584x2584-grey-33-empty-scans.jpeg": progressiveJPEG(2584, 2584, []byte{0x11}, MaxScans+1),
	} {
		if os.Getenv("WRITE_TESTDATA") != "" {
			if err := os.WriteFile("testdata/"+name, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(read(t, name), want) {
			t.Errorf("testdata/%s is not what progressiveJPEG writes (WRITE_TESTDATA=1 rewrites it)", name)
		}
	}
}
