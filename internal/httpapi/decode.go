package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/accountd/accountd/internal/validate"
)

// decode reads a JSON body into dst: application/json only, bounded in
// size, unknown fields rejected, exactly one JSON value.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return &requestError{status: http.StatusUnsupportedMediaType, kind: "unsupported_media_type"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err)
		}
		return malformed("", "request.trailing_data")
	}
	return nil
}

func malformed(field, code string) error {
	e := &requestError{status: http.StatusBadRequest, kind: "malformed_request"}
	if field != "" {
		e.violations = []validate.Violation{{Field: field, Code: code}}
	} else if code != "" {
		e.violations = []validate.Violation{{Field: "body", Code: code}}
	}
	return e
}

func decodeError(err error) error {
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return &requestError{status: http.StatusRequestEntityTooLarge, kind: "payload_too_large"}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return malformed(field, "request.wrong_type")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return malformed(field, "request.unknown_field")
	default:
		return malformed("", "request.malformed_json")
	}
}

// optionalString tells "absent" (no change), null and "" (clear) and a
// value apart in PATCH bodies.
type optionalString struct {
	set   bool
	value string
}

func (o *optionalString) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.value = ""
		return nil
	}
	return json.Unmarshal(b, &o.value)
}

func (o optionalString) ptr() *string {
	if !o.set {
		return nil
	}
	v := o.value
	return &v
}
