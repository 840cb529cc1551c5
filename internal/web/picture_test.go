package web_test

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// upload posts a picture as the profile page's form does.
func (b *browser) upload(data []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("picture", "me.png")
	_, _ = part.Write(data)
	_ = w.Close()
	req, _ := http.NewRequest("POST", b.base+"/settings/profile/picture", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func smallPNG(t *testing.T, width int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, width, 10))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The console says on the picture field why an upload was not taken: over
// the account's uploads an hour (429) or every decode slot busy (503),
// each with Retry-After, the page otherwise as it was.
func TestPictureUploadLimitsOnTheConsole(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{PictureUploadLimit: commands.Rate{Burst: 1, Every: 30 * time.Minute}}, "")
	ada := signUp(t, srv, "ada")
	expect(t, ada.upload(smallPNG(t, 10)), http.StatusSeeOther)
	p := expect(t, ada.upload(smallPNG(t, 11)), http.StatusTooManyRequests)
	if s, err := strconv.Atoi(p.header.Get("Retry-After")); err != nil || s < 1 || s > 30*60 {
		t.Fatalf("Retry-After %q", p.header.Get("Retry-After"))
	}
	if !strings.Contains(p.body, "You have uploaded many pictures recently; try again in 30 minutes.") || !strings.Contains(p.body, `href="#f-picture"`) {
		t.Fatalf("page %.2000s", p.body)
	}

	bob := signUp(t, srv, "bob")
	gate := a.Commands.PictureGate()
	for range 2 {
		leave, err := gate.Enter(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer leave()
	}
	p = expect(t, bob.upload(smallPNG(t, 10)), http.StatusServiceUnavailable)
	if p.header.Get("Retry-After") != "2" || !strings.Contains(p.body, "Many pictures are being processed right now; try again in a moment.") {
		t.Fatalf("Retry-After %q, page %.2000s", p.header.Get("Retry-After"), p.body)
	}
}
