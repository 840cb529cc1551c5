package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/accountd/accountd/internal/validate"
)

// decode reads a JSON object body into the struct dst: application/json
// only, bounded in size, exactly one value. Keys match the struct's json
// names exactly (encoding/json would accept any case), a key given twice
// is refused (encoding/json would keep the last), and every error names the
// JSON field; all field errors of a body are reported at once.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return &requestError{status: http.StatusUnsupportedMediaType, kind: "unsupported_media_type"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &requestError{status: http.StatusRequestEntityTooLarge, kind: "payload_too_large"}
		}
		return malformed("", "request.malformed_json")
	}
	return decodeObject(body, dst)
}

func decodeObject(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil && tok != nil {
			return malformed("", "request.not_an_object")
		}
		return malformed("", "request.malformed_json")
	}
	fields := jsonFields(reflect.ValueOf(dst).Elem())
	seen := map[string]bool{}
	var vs []validate.Violation
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed("", "request.malformed_json")
		}
		key := tok.(string) // object keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return malformed("", "request.malformed_json")
		}
		var target any
		if field, ok := fields[key]; ok {
			target = field.Addr().Interface()
		} else if table, ok := dst.(tableFields); ok {
			target = table.tableField(key)
		}
		switch {
		case seen[key]:
			vs = append(vs, validate.Violation{Field: key, Code: "request.duplicate_field"})
		case target == nil:
			vs = append(vs, validate.Violation{Field: key, Code: "request.unknown_field"})
		case !utf8.Valid(raw):
			vs = append(vs, validate.Violation{Field: key, Code: "request.invalid_utf8"})
		default:
			if err := json.Unmarshal(raw, target); err != nil {
				vs = append(vs, validate.Violation{Field: key, Code: "request.wrong_type"})
			}
		}
		seen[key] = true
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return malformed("", "request.malformed_json")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("", "request.trailing_data")
	}
	if len(vs) > 0 {
		return &requestError{status: http.StatusBadRequest, kind: "malformed_request", violations: vs}
	}
	return nil
}

// tableFields is a request whose fields also come from a table (the
// profile's): tableField is where the value of key goes, nil for a key the
// table does not have.
type tableFields interface {
	tableField(key string) any
}

// jsonFields maps the exact json names of a struct's fields (embedded
// structs included) to the fields.
func jsonFields(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			for k, fv := range jsonFields(v.Field(i)) {
				out[k] = fv
			}
		case name == "-" || !f.IsExported():
		case name == "":
			out[f.Name] = v.Field(i)
		default:
			out[name] = v.Field(i)
		}
	}
	return out
}

func malformed(field, code string) error {
	e := &requestError{status: http.StatusBadRequest, kind: "malformed_request"}
	if field == "" {
		field = "body"
	}
	e.violations = []validate.Violation{{Field: field, Code: code}}
	return e
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

// optionalStrings is optionalString for lists: absent (no change), null or
// [] (clear) and a list apart.
type optionalStrings struct {
	set   bool
	value []string
}

func (o *optionalStrings) UnmarshalJSON(b []byte) error {
	o.set, o.value = true, []string{}
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &o.value)
}

func (o optionalStrings) ptr() *[]string {
	if !o.set {
		return nil
	}
	v := o.value
	if v == nil {
		v = []string{}
	}
	return &v
}
