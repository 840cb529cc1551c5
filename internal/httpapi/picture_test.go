package httpapi_test

import (
	"bytes"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 3), uint8(x ^ y), 255})
		}
	}
	return img
}

func encoded(t *testing.T, format string, img image.Image) []byte {
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upload PUTs raw bytes with the given Content-Type.
func (c *client) upload(path, contentType string, data []byte) response {
	c.t.Helper()
	req, _ := http.NewRequest("PUT", c.base+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	testenv.CheckOpenAPI(c.t, req, data, res, raw)
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

func TestProfilePicture(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	ada := signUp(t, srv, "ada", nil)
	anon := &client{t: t, base: srv.URL}
	webp, err := os.ReadFile("../picture/testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	jpg := encoded(t, "jpeg", photo(900, 600))
	// A PNG whose IHDR declares 60000 x 60000: a few hundred bytes.
	bomb := encoded(t, "png", photo(8, 8))
	ihdr := bomb[16:29]
	copy(ihdr[0:4], []byte{0, 0, 0xea, 0x60})
	copy(ihdr[4:8], []byte{0, 0, 0xea, 0x60})
	crc := crc32.ChecksumIEEE(bomb[12:29])
	copy(bomb[29:33], []byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})

	for _, tt := range []struct {
		name, contentType string
		data              []byte
		want              int
		code              string
	}{
		{"PNG", "image/png", encoded(t, "png", photo(64, 64)), 200, ""},
		{"JPEG", "image/jpeg", jpg, 200, ""},
		{"GIF", "image/gif", encoded(t, "gif", photo(32, 32)), 200, ""},
		{"WebP", "image/webp", webp, 200, ""},
		{"the type is told by the bytes, not the header", "image/png", jpg, 200, ""},
		{"truncated", "image/jpeg", jpg[:len(jpg)/3], 422, "body:image.corrupt"},
		{"a header that lies about the type", "image/png", append([]byte("\x89PNG\r\n\x1a\n"), jpg[8:]...), 422, "body:image.corrupt"},
		{"not a picture", "image/png", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), 422, "body:image.unsupported"},
		{"a decompression bomb", "image/png", bomb, 422, "body:image.too_many_pixels"},
		{"empty", "image/png", nil, 422, "body:image.empty"},
		{"over 2 MiB", "image/jpeg", append(append([]byte{}, jpg...), make([]byte, 2<<20)...), 413, "body:image.too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ada.expect(tt.want, ada.upload("/v1/me/picture", tt.contentType, tt.data))
			if tt.code != "" {
				if _, codes := r.problem(t); len(codes) != 1 || codes[0] != tt.code {
					t.Fatalf("codes %v, want %s", codes, tt.code)
				}
				return
			}
			m := r.json(t)
			if w, h := m["width"].(float64), m["height"].(float64); w > 512 || h > 512 || w < 1 {
				t.Fatalf("kept %vx%v", w, h)
			}
		})
	}

	// The JPEG again: scaled to 512 x 341.
	up := ada.expect(http.StatusOK, ada.upload("/v1/me/picture", "application/octet-stream", jpg)).json(t)
	if up["width"] != 512.0 || up["height"] != 341.0 || up["content_type"] != "image/jpeg" {
		t.Fatalf("upload %v", up)
	}
	url := up["picture_url"].(string)
	if me := ada.expect(http.StatusOK, ada.do("GET", "/v1/me", nil)).json(t); me["picture_url"] != url {
		t.Fatalf("me %v, want picture_url %s", me, url)
	}
	if prof := ada.expect(http.StatusOK, ada.do("GET", "/v1/profiles/ada", nil)).json(t); prof["picture_url"] != url {
		t.Fatalf("profile %v", prof)
	}
	got := anon.expect(http.StatusOK, anon.do("GET", url, nil))
	tag := got.header.Get("ETag")
	if got.header.Get("Content-Type") != "image/jpeg" || tag != `"`+up["sha256"].(string)+`"` || !strings.Contains(got.header.Get("Cache-Control"), "max-age") {
		t.Fatalf("picture headers %v", got.header)
	}
	if img, format, err := image.Decode(bytes.NewReader(got.body)); err != nil || format != "jpeg" || img.Bounds().Dx() != 512 {
		t.Fatalf("served picture: %v %v", format, err)
	}
	anon.expect(http.StatusNotModified, anon.do("GET", "/v1/profiles/ada/picture", nil, "If-None-Match", tag))
	anon.expect(http.StatusOK, anon.do("GET", "/v1/profiles/ada/picture", nil, "If-None-Match", `"other"`))

	// The owner sees their own change at once (others, once the read model
	// has it: milliseconds).
	ada.expect(http.StatusNoContent, ada.do("DELETE", "/v1/me/picture", nil))
	ada.expect(http.StatusNotFound, ada.do("GET", "/v1/profiles/ada/picture", nil))
	if prof := ada.expect(http.StatusOK, ada.do("GET", "/v1/profiles/ada", nil)).json(t); prof["picture_url"] != nil {
		t.Fatalf("profile after removal %v", prof)
	}
}

// What a picture may cost, told apart: crafted JPEGs are 422 with their
// field errors; over the account's uploads an hour 429 with Retry-After;
// with every decode slot of the process taken for the whole wait 503 with
// Retry-After.
func TestPictureUploadBounds(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{PictureUploadLimit: commands.Rate{Burst: 3, Every: 20 * time.Minute}}, "")
	ada := signUp(t, srv, "ada", nil)
	testdata := func(name string) []byte {
		b, err := os.ReadFile("../picture/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name string
		data []byte
		code string
	}{
		{"progressive grey 5792 x 5792: four bytes a coefficient over the budget", testdata("progressive-5792x5792-grey-1-empty-scan.jpeg"), "body:image.too_large_to_decode"},
		{"33 empty scans", testdata("progressive-2584x2584-grey-33-empty-scans.jpeg"), "body:image.too_many_scans"},
	} {
		r := ada.expect(http.StatusUnprocessableEntity, ada.upload("/v1/me/picture", "image/jpeg", tt.data))
		if _, codes := r.problem(t); len(codes) != 1 || codes[0] != tt.code {
			t.Fatalf("%s: codes %v, want %s", tt.name, codes, tt.code)
		}
	}
	ada.expect(http.StatusOK, ada.upload("/v1/me/picture", "image/png", encoded(t, "png", photo(40, 40)))) // the third this hour
	r := ada.expect(http.StatusTooManyRequests, ada.upload("/v1/me/picture", "image/png", encoded(t, "png", photo(41, 40))))
	if kind, _ := r.problem(t); kind != "/problems/rate_limited" {
		t.Fatalf("problem %s", kind)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 20*60 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}

	// Both decode slots held: another account's upload waits, then 503.
	bob := signUp(t, srv, "bob", nil)
	gate := a.Commands.PictureGate()
	var leaves []func()
	for range 2 {
		leave, err := gate.Enter(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leave)
	}
	r = bob.expect(http.StatusServiceUnavailable, bob.upload("/v1/me/picture", "image/png", encoded(t, "png", photo(40, 40))))
	if kind, _ := r.problem(t); kind != "/problems/busy" || r.header.Get("Retry-After") != "2" {
		t.Fatalf("problem %s, Retry-After %q", kind, r.header.Get("Retry-After"))
	}
	for _, leave := range leaves {
		leave()
	}
	bob.expect(http.StatusOK, bob.upload("/v1/me/picture", "image/png", encoded(t, "png", photo(40, 40))))
}

// After five uploads the account's pictures stream holds two pictures
// (the current and the previous), and the profile serves the current one.
func TestOldPicturesAreNotKept(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{}, "")
	ada := signUp(t, srv, "ada", nil)
	var last map[string]any
	for i := range 5 {
		last = ada.expect(http.StatusOK, ada.upload("/v1/me/picture", "image/png", encoded(t, "png", photo(30+i, 30)))).json(t)
	}
	id := ada.expect(http.StatusOK, ada.do("GET", "/v1/me", nil)).json(t)["id"].(string)
	rs, err := a.Platform.ESDB.ReadStream(t.Context(), events.PicturesStream(id), esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var revisions []uint64
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		revisions = append(revisions, ev.Event.EventNumber)
	}
	if !slices.Equal(revisions, []uint64{3, 4}) {
		t.Fatalf("pictures stream revisions %v, want [3 4]", revisions)
	}
	got := ada.expect(http.StatusOK, ada.do("GET", last["picture_url"].(string), nil))
	if got.header.Get("ETag") != `"`+last["sha256"].(string)+`"` {
		t.Fatalf("served %v", got.header)
	}
}
