package picture

// Run with: go test -run X -bench . -benchmem ./internal/picture
// B/op (everything allocated by one Process) bounds its peak memory.

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
)

// noiseJPEG makes a JPEG of random pixels just under 2 MiB: as hard to
// decode per byte as a photo gets.
func noiseJPEG(b *testing.B, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

// flat is one colour: it compresses to almost nothing, so a small upload
// can declare the most pixels the budget admits.
func flat(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	return img
}

func BenchmarkProcess(b *testing.B) {
	var photo bytes.Buffer
	big := image.NewRGBA(image.Rect(0, 0, 5400, 4100)) // 22.1 MP: the most the JPEG budget takes at 4:2:0
	for i := range big.Pix {
		big.Pix[i] = uint8(i / 4096)
	}
	if err := jpeg.Encode(&photo, big, &jpeg.Options{Quality: 50}); err != nil {
		b.Fatal(err)
	}
	var bigPNG bytes.Buffer
	rgba := image.NewNRGBA(image.Rect(0, 0, 2890, 2890)) // 8.35 MP: the most the PNG budget takes
	for y := range 2890 {
		for x := range 2890 {
			rgba.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 0, 255})
		}
	}
	if err := png.Encode(&bigPNG, rgba); err != nil {
		b.Fatal(err)
	}
	bomb := declaring(encodePNG(b, flat(8, 8)), 8000, 8000)
	for _, tt := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"2MiB-noise-JPEG-1520x1520", noiseJPEG(b, 1520, 1520), true},
		{"22.1MP-JPEG", photo.Bytes(), true},
		{"8.35MP-PNG", bigPNG.Bytes(), true},
		{"8000x8000-declared-PNG", bomb, false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			if len(tt.data) > MaxBytes {
				b.Fatalf("%d bytes: over the upload limit", len(tt.data))
			}
			b.SetBytes(int64(len(tt.data)))
			b.ReportAllocs()
			for range b.N {
				if _, err := Process(b.Context(), tt.data); (err == nil) != tt.ok {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJPEGBomb: the crafted progressive JPEGs (grey, empty AC
// scans) through the standard decoder alone, as Process used to hand them
// over, and through Process, which refuses them from their headers now.
//
//	go test -run X -bench JPEGBomb -benchtime 1x ./internal/picture
func BenchmarkJPEGBomb(b *testing.B) {
	for _, tt := range []struct {
		name  string
		scans int
	}{
		{"5792x5792-200-scans", 200},
		{"5792x5792-2000-scans", 2000},
	} {
		bomb := progressiveJPEG(5792, 5792, []byte{0x11}, tt.scans)
		b.Run(tt.name+"/image-jpeg-alone", func(b *testing.B) {
			b.SetBytes(int64(len(bomb)))
			b.ReportAllocs()
			for range b.N {
				if _, err := jpeg.Decode(bytes.NewReader(bomb)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tt.name+"/Process", func(b *testing.B) {
			b.SetBytes(int64(len(bomb)))
			b.ReportAllocs()
			for range b.N {
				if _, err := Process(b.Context(), bomb); !Refused(err) {
					b.Fatal(err)
				}
			}
		})
	}
	// The most the limits admit: grey at the budget, every scan allowed.
	worst := progressiveJPEG(2584, 2584, []byte{0x11}, MaxScans)
	b.Run("2584x2584-32-scans-admitted/Process", func(b *testing.B) {
		b.SetBytes(int64(len(worst)))
		b.ReportAllocs()
		for range b.N {
			if _, err := Process(b.Context(), worst); err != nil {
				b.Fatal(err)
			}
		}
	})
}
