package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/picture"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
)

type pictureResponse struct {
	PictureURL  string `json:"picture_url"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SHA256      string `json:"sha256"`
}

// putPicture takes the body as the new profile picture. Its format is told
// by its bytes, whatever the Content-Type says.
func (a *API) putPicture(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, picture.MaxBytes+1))
	if err != nil {
		a.writeError(w, r, malformed("", "request.malformed_json"))
		return
	}
	if len(data) > picture.MaxBytes {
		a.writeError(w, r, &imageError{status: http.StatusRequestEntityTooLarge,
			violation: validate.Violation{Field: "body", Code: "image.too_large", Params: map[string]int{"max": picture.MaxBytes >> 20}}})
		return
	}
	res, err := a.cmd.SetPicture(r.Context(), commands.SetPicture{UserID: subject(r), Data: data}, metadata(r))
	if err != nil {
		a.writeError(w, r, imageProblem(err))
		return
	}
	p := res.Picture
	w.Header().Set("ETag", etag(res.Revision))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, pictureResponse{PictureURL: projections.PictureURL(res.User.Username, p.SHA256), ContentType: p.ContentType,
		Width: p.Width, Height: p.Height, SHA256: p.SHA256})
}

// imageProblem turns a refused upload into its problem.
func imageProblem(err error) error {
	v, refused := picture.Refusal(err, "body")
	if !refused {
		return err
	}
	return &imageError{status: http.StatusUnprocessableEntity, violation: v}
}

func (a *API) deletePicture(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.RemovePicture(r.Context(), commands.RemovePicture{UserID: subject(r)}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getPicture serves a public profile's picture, content-addressed: its
// ETag is the SHA-256 of the bytes.
func (a *API) getPicture(w http.ResponseWriter, r *http.Request) {
	p, err := a.queries.GetProfile(r.Context(), caller(r).UserID, mux.Vars(r)["username"])
	if err == nil && p.PictureSHA256 == "" {
		err = commands.ErrPictureNotFound
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	tag := `"` + p.PictureSHA256 + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	data, err := a.cmd.ReadPicture(r.Context(), p.UserID, p.PictureRev, p.PictureSHA256)
	if err != nil {
		w.Header().Del("ETag")
		w.Header().Del("Cache-Control")
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", p.PictureType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// noneMatch: If-None-Match names the tag (or is *).
func noneMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}
