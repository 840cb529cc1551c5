package picture

import (
	"bytes"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

func gradient(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 128, a})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withExif puts an APP1 segment with a GPS position right after SOI.
func withExif(jpg []byte) []byte {
	payload := []byte("Exif\x00\x00MM\x00*GPSLatitude=41.0082N GPSLongitude=28.9784E")
	seg := append([]byte{0xff, 0xe1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

// declaring rewrites a PNG's IHDR to declare other dimensions (a bomb: the
// file stays tiny).
func declaring(p []byte, w, h uint32) []byte {
	out := append([]byte{}, p...)
	ihdr := out[8+8 : 8+8+13]
	ihdr[0], ihdr[1], ihdr[2], ihdr[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	ihdr[4], ihdr[5], ihdr[6], ihdr[7] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	crc := crc32.ChecksumIEEE(out[8+4 : 8+8+13])
	c := out[8+8+13:]
	c[0], c[1], c[2], c[3] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return out
}

func read(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProcess(t *testing.T) {
	big := gradient(1200, 800, false)
	for _, tt := range []struct {
		name          string
		in            []byte
		contentType   string
		width, height int
	}{
		{"PNG, scaled to fit", encodePNG(t, big), "image/jpeg", 512, 341},
		{"PNG with transparency stays PNG", encodePNG(t, gradient(300, 600, true)), "image/png", 256, 512},
		{"JPEG with EXIF GPS", withExif(encodeJPEG(t, big)), "image/jpeg", 512, 341},
		{"small GIF, not enlarged", encodeGIF(t, gradient(40, 30, false)), "image/jpeg", 40, 30},
		{"lossy WebP", read(t, "blue-purple-pink.lossy.webp"), "image/jpeg", 0, 0},
		{"lossless WebP with alpha", read(t, "gopher-doc.with-alpha.lossless.webp"), "image/png", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Process(t.Context(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.ContentType != tt.contentType || (tt.width > 0 && (p.Width != tt.width || p.Height != tt.height)) {
				t.Fatalf("got %s %dx%d", p.ContentType, p.Width, p.Height)
			}
			if p.Width > MaxSide || p.Height > MaxSide || len(p.SHA256) != 64 {
				t.Fatalf("got %dx%d %q", p.Width, p.Height, p.SHA256)
			}
			if bytes.Contains(p.Data, []byte("GPS")) || bytes.Contains(p.Data, []byte("Exif")) {
				t.Fatal("metadata survived")
			}
			// What is kept decodes, as what it says it is.
			if _, format, err := image.Decode(bytes.NewReader(p.Data)); err != nil || "image/"+format != p.ContentType {
				t.Fatalf("output decodes as %q: %v", format, err)
			}
			again, _ := Process(t.Context(), tt.in)
			if again.SHA256 != p.SHA256 {
				t.Fatal("the same upload gave another picture")
			}
		})
	}
}

func TestProcessRefuses(t *testing.T) {
	small := encodePNG(t, gradient(64, 64, false))
	jpg := encodeJPEG(t, gradient(64, 64, false))
	tooMany := errors.New("too large") // stands for a *TooLargeError
	for _, tt := range []struct {
		name   string
		in     []byte
		want   error
		budget bool
	}{
		{"empty", nil, ErrEmpty, false},
		{"text", []byte("hello, this is not a picture"), ErrUnsupported, false},
		{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), ErrUnsupported, false},
		{"truncated PNG", small[:len(small)/2], ErrCorrupt, false},
		{"truncated JPEG", jpg[:len(jpg)/2], ErrCorrupt, false},
		{"a PNG header on a JPEG body", append([]byte("\x89PNG\r\n\x1a\n"), jpg...), ErrCorrupt, false},
		{"a bomb: 100000 x 100000 declared in a few hundred bytes", declaring(small, 100_000, 100_000), tooMany, false},
		{"8001 wide", declaring(small, 8001, 10), tooMany, false},
		{"within 8000 x 8000 but too large to decode in budget", declaring(small, 8000, 8000), tooMany, true},
		{"a header that lies about the dimensions", declaring(small, 64, 65), ErrCorrupt, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Process(t.Context(), tt.in)
			if tt.want == tooMany {
				var tl *TooLargeError
				if !errors.As(err, &tl) || tl.Budget != tt.budget {
					t.Fatalf("err %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}
