package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"

	"github.com/accountd/accountd/internal/httpapi"
)

// The HTTP tests check what they send and what they get against the
// OpenAPI document: every response must be one the document describes for
// its operation (status, headers, body schema), and every request the
// service accepted (2xx or 304) one it documents. Requests that are wrong on
// purpose are not checked: their answers are.
var openAPI = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(httpapi.OpenAPIDocument())
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc,
		// An export is one JSON value per line: each line is checked
		// against the array's item schema.
		config.WithBodyDecoder("application/x-ndjson", content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
			var out []any
			dec := json.NewDecoder(in.Body)
			for {
				var v any
				if err := dec.Decode(&v); err == io.EOF {
					return out, nil
				} else if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
		})),
		config.WithBodyDecoder("text/csv", content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
			raw, err := io.ReadAll(in.Body)
			return string(raw), err
		})),
		config.WithBodyDecoder("text/html", content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
			raw, err := io.ReadAll(in.Body)
			return string(raw), err
		})),
		config.WithBodyDecoder("text/plain", content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
			raw, err := io.ReadAll(in.Body)
			return string(raw), err
		})),
	)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return v, nil
})

// CheckOpenAPI validates one exchange. body is the request body sent (nil
// for none); raw is the response body read.
func CheckOpenAPI(t testing.TB, req *http.Request, body []byte, res *http.Response, raw []byte) {
	t.Helper()
	v, err := openAPI()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	clone := func() *http.Request {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		return r
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	if ok, errs := v.ValidateHttpResponse(clone(), res); !ok {
		for _, e := range errs {
			if e.ValidationType == "path" && (res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed) {
				continue // no such route: the router's answer, the same everywhere
			}
			t.Errorf("OpenAPI: %s %s -> %d: %s (%s)", req.Method, req.URL.Path, res.StatusCode, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("   %s at %s", se.Reason, se.FieldPath)
			}
		}
	}
	if res.StatusCode < 300 || res.StatusCode == http.StatusNotModified {
		if ok, errs := v.ValidateHttpRequestSync(clone()); !ok {
			for _, e := range errs {
				t.Errorf("OpenAPI: request %s %s (answered %d): %s (%s)", req.Method, req.URL.Path, res.StatusCode, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("   %s at %s", se.Reason, se.FieldPath)
				}
			}
		}
	}
}
