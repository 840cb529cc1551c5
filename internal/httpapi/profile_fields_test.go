package httpapi

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/accountd/accountd/events"
)

// The OpenAPI document describes every field of the profile's table
// (events.ProfileFields), field by field: in the account resource
// (always present), and in the requests that set it, with its rule's
// length; and no profile field the table does not have.
func TestOpenAPIProfileFieldsFollowTheTable(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string `json:"required"`
				Properties map[string]struct {
					Type      any    `json:"type"`
					MaxLength int    `json:"maxLength"`
					Format    string `json:"format"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc.Components.Schemas
	for _, f := range events.ProfileFields {
		t.Run(f.Name, func(t *testing.T) {
			me := schemas["Me"]
			if p, ok := me.Properties[f.Name]; !ok || p.Type != "string" || !slices.Contains(me.Required, f.Name) {
				t.Errorf("Me.%s: %+v (required: %v), want a string, required", f.Name, p, slices.Contains(me.Required, f.Name))
			}
			requests := []string{"PatchAdminUser"}
			if !f.AdminOnly {
				requests = append(requests, "RegisterRequest", "PatchMe")
			}
			for _, name := range requests {
				p, ok := schemas[name].Properties[f.Name]
				if !ok {
					t.Errorf("%s has no %s", name, f.Name)
					continue
				}
				if types, _ := p.Type.([]any); !slices.Equal(types, []any{"string", "null"}) {
					t.Errorf("%s.%s type %v, want [string, null]", name, f.Name, p.Type)
				}
				if name != "PatchAdminUser" && f.Rule.MaxLength != p.MaxLength {
					t.Errorf("%s.%s maxLength %d, the table says %d", name, f.Name, p.MaxLength, f.Rule.MaxLength)
				}
				if f.Rule.Kind == events.KindEmail && p.Format != "email" && name == "RegisterRequest" {
					t.Errorf("%s.%s format %q, want email", name, f.Name, p.Format)
				}
			}
		})
	}
}
