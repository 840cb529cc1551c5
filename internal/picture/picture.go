// Package picture turns an uploaded profile picture into the one the
// service keeps: the format is told by the bytes (never by a header), the
// dimensions are read before anything is decoded, so a small file that
// declares a huge image (a decompression bomb) is refused without
// allocating it, and the image is re-encoded at most MaxSide x MaxSide,
// which also drops every piece of metadata (EXIF, GPS, comments).
package picture

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/accountd/accountd/internal/validate"
)

// Limits.
const (
	MaxBytes     = 2 << 20 // an upload
	MaxDimension = 8000    // either side, as declared
	MaxSide      = 512     // either side, as kept
	// DecodeBudget bounds the memory the decoded image may take: a picture
	// that fits MaxDimension but would decode larger than this is refused
	// too. With the scaling buffers (under 20 MiB) and the upload itself,
	// one upload stays under 64 MiB whatever it declares.
	DecodeBudget = 32 << 20
	// maxStored keeps a stored picture well inside the event store's
	// 1 MiB event limit once base64-encoded and sealed.
	maxStored = 384 << 10
)

// Why a picture is refused; Error says which rule, with its limits.
var (
	ErrEmpty       = errors.New("image.empty")
	ErrUnsupported = errors.New("image.unsupported")
	ErrCorrupt     = errors.New("image.corrupt")
)

// TooLargeError: the declared dimensions are over the limits.
type TooLargeError struct {
	Width, Height int
	// Budget: within MaxDimension, but too large to decode within the
	// memory budget (MaxPixels is what it allows for this kind of image).
	Budget    bool
	MaxPixels int
}

func (e *TooLargeError) Error() string {
	if e.Budget {
		return fmt.Sprintf("image.too_large_to_decode: %dx%d, at most %d pixels", e.Width, e.Height, e.MaxPixels)
	}
	return fmt.Sprintf("image.too_many_pixels: %dx%d", e.Width, e.Height)
}

// Refused says whether err is one of Process's refusals (the upload's
// fault) rather than a failure.
func Refused(err error) bool {
	var tl *TooLargeError
	return errors.Is(err, ErrEmpty) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) || errors.As(err, &tl)
}

// Refusal is a refused upload as a field's violation (for the field named
// field), with the limit it broke; false when err is no refusal.
func Refusal(err error, field string) (validate.Violation, bool) {
	var tl *TooLargeError
	v := validate.Violation{Field: field}
	switch {
	case errors.As(err, &tl) && tl.Budget:
		v.Code, v.Params = "image.too_large_to_decode", map[string]int{"max": tl.MaxPixels / 1_000_000}
	case errors.As(err, &tl):
		v.Code, v.Params = "image.too_many_pixels", map[string]int{"max": MaxDimension}
	case errors.Is(err, ErrEmpty), errors.Is(err, ErrUnsupported), errors.Is(err, ErrCorrupt):
		v.Code = err.Error()
	default:
		return validate.Violation{}, false
	}
	return v, true
}

// Picture is a processed picture.
type Picture struct {
	Data        []byte
	ContentType string // image/jpeg or image/png
	Width       int
	Height      int
	SHA256      string // hex, of Data
}

// Format tells the format by the first bytes: png, jpeg, gif, webp or "".
func Format(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// Process checks and re-encodes an upload.
func Process(data []byte) (Picture, error) {
	if len(data) == 0 {
		return Picture{}, ErrEmpty
	}
	format := Format(data)
	var decodeConfig func([]byte) (image.Config, error)
	var decode func([]byte) (image.Image, error)
	switch format {
	case "png":
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case "jpeg":
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case "gif":
		decodeConfig = func(b []byte) (image.Config, error) { return gif.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return gif.Decode(bytes.NewReader(b)) } // the first frame
	case "webp":
		decodeConfig = func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	default:
		return Picture{}, ErrUnsupported
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return Picture{}, ErrCorrupt
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Picture{}, ErrCorrupt
	}
	if cfg.Width > MaxDimension || cfg.Height > MaxDimension {
		return Picture{}, &TooLargeError{Width: cfg.Width, Height: cfg.Height}
	}
	perPixel := decodedBytesPerPixel(format, cfg.ColorModel, data)
	if maxPixels := int(DecodeBudget / perPixel); cfg.Width*cfg.Height > maxPixels {
		return Picture{}, &TooLargeError{Width: cfg.Width, Height: cfg.Height, Budget: true, MaxPixels: maxPixels}
	}
	img, err := decode(data)
	if err != nil {
		return Picture{}, ErrCorrupt
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return Picture{}, ErrCorrupt // the header lied about the image
	}
	opaque := isOpaque(img)
	for side := MaxSide; ; side = side * 3 / 4 {
		p, err := encode(img, side, opaque)
		if err != nil {
			return Picture{}, err
		}
		if len(p.Data) <= maxStored || side < 64 {
			return p, nil
		}
	}
}

// decodedBytesPerPixel is what the standard decoders allocate per pixel
// for this kind of image (the worst case where the header does not say).
func decodedBytesPerPixel(format string, m color.Model, data []byte) float64 {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.YCbCrModel:
		if format == "jpeg" {
			return jpegBytesPerPixel(data)
		}
		return 1.5 // lossy WebP: 4:2:0
	case color.NYCbCrAModel:
		return 2.5 // lossy WebP with alpha
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// jpegBytesPerPixel reads the frame header's sampling factors: a 4:2:0
// JPEG decodes to 1.5 bytes a pixel, a 4:4:4 one to 3 (and a progressive
// one to five times that).
func jpegBytesPerPixel(b []byte) float64 {
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return 3
		}
		marker := b[i+1]
		if marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01 || marker == 0xff {
			i += 2
			continue
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc {
			seg := b[i+4 : min(len(b), i+2+n)]
			if len(seg) < 6 {
				return 3
			}
			comps := int(seg[5])
			if comps == 1 {
				return 1
			}
			if comps != 3 || len(seg) < 6+3*comps {
				return 4 // CMYK and the like
			}
			h0, v0 := int(seg[7]>>4), int(seg[7]&15)
			h1, v1 := int(seg[10]>>4), int(seg[10]&15)
			planar := 3.0
			if h0 != 0 && v0 != 0 && h1 != 0 && v1 != 0 {
				planar = 1 + 2*float64(h1*v1)/float64(h0*v0)
			}
			if marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce {
				// Progressive: the decoder also keeps every coefficient,
				// 4 bytes each, until the last scan.
				return planar * 5
			}
			return planar
		}
		i += 2 + n
	}
	return 3
}

// fit scales w x h down (never up) to fit side x side, keeping the aspect.
func fit(w, h, side int) (int, int) {
	switch {
	case w <= side && h <= side:
		return w, h
	case w >= h:
		return side, max(1, h*side/w)
	}
	return max(1, w*side/h), side
}

func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// encode scales img to fit side x side (never up) and encodes it: JPEG for
// an opaque picture, PNG where transparency must survive.
func encode(img image.Image, side int, opaque bool) (Picture, error) {
	b := img.Bounds()
	w, h := fit(b.Dx(), b.Dy(), side)
	src := img
	if pw, ph := fit(b.Dx(), b.Dy(), 2*side); pw < b.Dx() {
		// The Catmull-Rom scaler keeps a float64 row per source row for
		// every destination column (32 bytes x dst width x src height:
		// 65 MB for a 4000-row photo); a cheap bilinear pass to twice the
		// size first keeps that small, and Catmull-Rom then smooths what
		// the first pass aliased.
		pre := image.NewRGBA(image.Rect(0, 0, pw, ph))
		draw.ApproxBiLinear.Scale(pre, pre.Bounds(), img, b, draw.Src, nil)
		src = pre
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if opaque {
		draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
	var out bytes.Buffer
	p := Picture{Width: w, Height: h}
	if opaque {
		p.ContentType = "image/jpeg"
		if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85}); err != nil {
			return Picture{}, err
		}
	} else {
		p.ContentType = "image/png"
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, dst); err != nil {
			return Picture{}, err
		}
	}
	p.Data = out.Bytes()
	sum := sha256.Sum256(p.Data)
	p.SHA256 = hex.EncodeToString(sum[:])
	return p, nil
}
