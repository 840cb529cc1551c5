package picture

import (
	"bytes"
	"image"
	"testing"
)

// FuzzProcess: whatever the bytes, Process ends with a picture it can
// stand behind or one of its refusals; never a panic, a hang or another
// error. The seeds (testdata/fuzz/FuzzProcess and below) run with the
// plain tests; go test -fuzz FuzzProcess ./internal/picture explores.
func FuzzProcess(f *testing.F) {
	for _, name := range []string{"video-001.progressive.jpeg", "video-001.cmyk.jpeg", "video-001.rgb.jpeg", "video-001.restart2.jpeg",
		"video-005.gray.q50.progressive.jpeg", "blue-purple-pink.lossy.webp"} {
		f.Add(read(f, name))
	}
	f.Add(encodePNG(f, gradient(16, 16, true)))
	f.Add(encodeGIF(f, gradient(16, 16, false)))
	f.Add(declaring(encodePNG(f, flat(8, 8)), 8000, 8000))
	f.Add(progressiveJPEG(64, 48, []byte{0x22, 0x11, 0x11}, 5))
	f.Add(progressiveJPEG(64, 48, []byte{0x11}, MaxScans+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Process(t.Context(), data)
		if err != nil {
			if !Refused(err) {
				t.Fatalf("neither a picture nor a refusal: %v", err)
			}
			return
		}
		if p.Width < 1 || p.Height < 1 || p.Width > MaxSide || p.Height > MaxSide || len(p.Data) == 0 {
			t.Fatalf("kept %dx%d, %d bytes", p.Width, p.Height, len(p.Data))
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(p.Data))
		if err != nil || "image/"+format != p.ContentType || cfg.Width != p.Width || cfg.Height != p.Height {
			t.Fatalf("kept %s %dx%d, which reads as %s %dx%d: %v", p.ContentType, p.Width, p.Height, format, cfg.Width, cfg.Height, err)
		}
	})
}
