package auditexport

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountd/accountd/projections"
)

func TestSpreadsheetCell(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "Mozilla/5.0", "Mozilla/5.0"},
		{"equals", "=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
		{"plus", "+1+1", "'+1+1"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"formula later in the cell", "a=1", "a=1"},
		{"apostrophe already", "'=1", "'=1"},
		{"line feed first", "\n=1", "\n=1"},
		{"non-ASCII first", "Çağrı", "Çağrı"},
		{"time", "2026-11-23T12:00:00+03:00", "2026-11-23T12:00:00+03:00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := SpreadsheetCell(tt.in); got != tt.want {
				t.Fatalf("SpreadsheetCell(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Every CSV cell is made safe, whatever column it is in; JSON lines keep
// every value as it was.
func TestWriteMakesEveryCSVCellSafe(t *testing.T) {
	hostile := projections.AuditEntry{EventID: "=id", Time: "2026-11-23T12:00:00Z", Type: "+type", Actor: "-actor",
		CredentialKind: "@kind", CredentialID: "\tid", ClientIP: "\r192.0.2.1", UserAgent: "=cmd|' /C calc'!A0", CorrelationID: "=HYPERLINK(\"http://x\")"}
	each := func(ctx context.Context, fn func(projections.AuditEntry) error) error { return fn(hostile) }

	rec := httptest.NewRecorder()
	if err := Write(t.Context(), rec, CSV, each, "en", time.UTC); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv %v: %q", err, rec.Body.String())
	}
	header, row := rows[0], rows[1]
	for i, cell := range row {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("%s cell %q can start a formula", header[i], cell)
		}
	}
	if got := row[7]; got != "'=cmd|' /C calc'!A0" {
		t.Fatalf("user agent %q", got)
	}

	rec = httptest.NewRecorder()
	if err := Write(t.Context(), rec, NDJSON, each, "en", time.UTC); err != nil {
		t.Fatal(err)
	}
	var e Entry
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.UserAgent != hostile.UserAgent || e.Type != hostile.Type || e.ID != hostile.EventID || e.ClientIP != hostile.ClientIP {
		t.Fatalf("JSON lines changed values: %+v", e)
	}
}
