// Package picture turns an uploaded profile picture into the one the
// service keeps: the format is told by the bytes (never by a header), the
// dimensions are read before anything is decoded, so a small file that
// declares a huge image (a decompression bomb) is refused without
// allocating it, and the image is re-encoded at most MaxSide x MaxSide,
// which also drops every piece of metadata (EXIF, GPS, comments).
//
// Work is bounded as well as memory: a JPEG with more scans than an
// encoder writes is refused before decoding (a few bytes a scan can each
// make the decoder walk the whole image), and Process stops when its
// context ends, at the decoder's next read of the upload.
package picture

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

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
	// MaxScans bounds a JPEG's scans. libjpeg writes 1 to 4 for a
	// sequential JPEG and at most 18 for a progressive one (10 for colour,
	// 6 for grey); each scan walks every block of its components, so with
	// the decode budget this bounds the decoder's work too.
	MaxScans = 32
	// maxStored keeps a stored picture well inside the event store's
	// 1 MiB event limit once base64-encoded and sealed.
	maxStored = 384 << 10
	// readChunk is the most the decoders get from one read of the upload:
	// they check for the end of the context that often. A JPEG scan is at
	// least about 16 bytes, so no read hands over more than a few scans.
	readChunk = 64
)

// Why a picture is refused; Error says which rule, with its limits.
var (
	ErrEmpty       = errors.New("image.empty")
	ErrUnsupported = errors.New("image.unsupported")
	ErrCorrupt     = errors.New("image.corrupt")
	// ErrTooComplex: processing took longer than it may (the caller's
	// deadline, see commands); the picture is too costly to decode.
	ErrTooComplex = errors.New("image.too_complex")
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

// TooManyScansError: a JPEG with more scans than MaxScans (Scans counts
// up to the first one over).
type TooManyScansError struct {
	Scans int
}

func (e *TooManyScansError) Error() string {
	return fmt.Sprintf("image.too_many_scans: over %d", MaxScans)
}

// Refused says whether err is one of Process's refusals (the upload's
// fault) rather than a failure.
func Refused(err error) bool {
	_, refused := Refusal(err, "")
	return refused
}

// Refusal is a refused upload as a field's violation (for the field named
// field), with the limit it broke; false when err is no refusal.
func Refusal(err error, field string) (validate.Violation, bool) {
	var tl *TooLargeError
	var ts *TooManyScansError
	v := validate.Violation{Field: field}
	switch {
	case errors.As(err, &ts):
		v.Code, v.Params = "image.too_many_scans", map[string]int{"max": MaxScans}
	case errors.As(err, &tl) && tl.Budget:
		v.Code, v.Params = "image.too_large_to_decode", map[string]int{"max": tl.MaxPixels / 1_000_000}
	case errors.As(err, &tl):
		v.Code, v.Params = "image.too_many_pixels", map[string]int{"max": MaxDimension}
	case errors.Is(err, ErrEmpty), errors.Is(err, ErrUnsupported), errors.Is(err, ErrCorrupt), errors.Is(err, ErrTooComplex):
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

// Process checks and re-encodes an upload. It gives up when ctx ends
// (returning ctx's error): the decoders read the upload in small pieces
// and each read first checks ctx, so the work itself stops, not only the
// wait for it.
func Process(ctx context.Context, data []byte) (Picture, error) {
	if len(data) == 0 {
		return Picture{}, ErrEmpty
	}
	if err := ctx.Err(); err != nil {
		return Picture{}, err
	}
	format := Format(data)
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch format {
	case "png":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case "jpeg":
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case "gif":
		decodeConfig, decode = gif.DecodeConfig, gif.Decode // the first frame
	case "webp":
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	default:
		return Picture{}, ErrUnsupported
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return Picture{}, ErrCorrupt
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Picture{}, ErrCorrupt
	}
	if cfg.Width > MaxDimension || cfg.Height > MaxDimension {
		return Picture{}, &TooLargeError{Width: cfg.Width, Height: cfg.Height}
	}
	need := int64(cfg.Width) * int64(cfg.Height) * 8 // the worst case where nothing better is known
	if format == "jpeg" {
		frame := inspectJPEG(data)
		if frame.scans > MaxScans {
			return Picture{}, &TooManyScansError{Scans: frame.scans}
		}
		if frame.repeated {
			return Picture{}, ErrCorrupt // a sequential JPEG codes each component once
		}
		if n := frame.decodedBytes(); n > 0 {
			need = n
		}
	} else {
		need = int64(float64(cfg.Width) * float64(cfg.Height) * decodedBytesPerPixel(cfg.ColorModel))
	}
	if need > DecodeBudget {
		perPixel := float64(need) / (float64(cfg.Width) * float64(cfg.Height))
		return Picture{}, &TooLargeError{Width: cfg.Width, Height: cfg.Height, Budget: true, MaxPixels: int(DecodeBudget / perPixel)}
	}
	img, err := decode(&stoppable{ctx: ctx, data: data})
	if ctx.Err() != nil {
		return Picture{}, ctx.Err()
	}
	if err != nil {
		return Picture{}, ErrCorrupt
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return Picture{}, ErrCorrupt // the header lied about the image
	}
	opaque := isOpaque(img)
	for side := MaxSide; ; side = side * 3 / 4 {
		if err := ctx.Err(); err != nil {
			return Picture{}, err
		}
		p, err := encode(img, side, opaque)
		if err != nil {
			return Picture{}, err
		}
		if len(p.Data) <= maxStored || side < 64 {
			return p, nil
		}
	}
}

// stoppable hands the upload to a decoder at most readChunk bytes a read,
// and fails every read once ctx has ended: the decoder stops at its next
// read.
type stoppable struct {
	ctx  context.Context
	data []byte
	off  int
}

func (r *stoppable) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), readChunk)], r.data[r.off:])
	r.off += n
	return n, nil
}

// decodedBytesPerPixel is what the standard decoders allocate per pixel
// for this kind of image (the worst case where the header does not say);
// JPEG has its own count (jpegFrame.decodedBytes).
func decodedBytesPerPixel(m color.Model) float64 {
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
		return 1.5 // lossy WebP: 4:2:0
	case color.NYCbCrAModel:
		return 2.5 // lossy WebP with alpha
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
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
