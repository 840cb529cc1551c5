package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// Every route is in the OpenAPI document, every documented operation is a
// route, and the document is what /v1/openapi.json serves.
func TestRoutesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{}, "")
	anon := &client{t: t, base: srv.URL}
	served := anon.expect(http.StatusOK, anon.do("GET", "/v1/openapi.json", nil))
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(served.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	err := a.API.Router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			routed = append(routed, m+" "+path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if !slices.Equal(documented, routed) {
		t.Fatalf("routes and document differ:\ndocumented %v\nrouted     %v", documented, routed)
	}
}
