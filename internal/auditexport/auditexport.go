// Package auditexport is the security log as clients read it: one entry's
// JSON shape, and the whole log streamed as JSON lines or CSV. The API and
// the console export through it, so a download is the same from both.
package auditexport

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/accountd/accountd/internal/summary"
	"github.com/accountd/accountd/projections"
)

// Entry is one audit entry, times in the reader's zone.
type Entry struct {
	ID            string      `json:"id"`
	Position      int64       `json:"position"`
	Time          string      `json:"time"`
	Type          string      `json:"type"`
	Actor         string      `json:"actor"`
	Credential    *Credential `json:"credential"`
	ClientIP      string      `json:"client_ip"`
	UserAgent     string      `json:"user_agent"`
	CorrelationID string      `json:"correlation_id"`
	Summary       string      `json:"summary"`
	Changes       []Change    `json:"changes"`
}

// Credential is what the actor used (a session or a token).
type Credential struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Change is one field's old and new value ("erased" once the data is gone).
type Change struct {
	Field  string `json:"field"`
	From   string `json:"from"`
	To     string `json:"to"`
	Erased bool   `json:"erased,omitempty"`
}

// Of renders an entry in lang, times in zone.
func Of(e projections.AuditEntry, lang string, zone *time.Location) Entry {
	out := Entry{ID: e.EventID, Position: e.Position, Time: projections.Time(e.Time).In(zone).Format(time.RFC3339), Type: e.Type,
		Actor: e.Actor, ClientIP: e.ClientIP, UserAgent: e.UserAgent, CorrelationID: e.CorrelationID,
		Summary: summary.Text(e, lang, zone), Changes: []Change{}}
	if e.CredentialKind != "" {
		out.Credential = &Credential{Kind: e.CredentialKind, ID: e.CredentialID}
	}
	for _, c := range e.Changes {
		out.Changes = append(out.Changes, Change(c))
	}
	return out
}

// Each calls fn for every selected entry, newest first, and stops at fn's
// first error (queries.Reader.EachAuditEntry, bound to an account and a
// filter).
type Each func(ctx context.Context, fn func(projections.AuditEntry) error) error

// Formats are the export formats, by the name in a URL or ?format=.
const (
	NDJSON = "ndjson"
	CSV    = "csv"
)

// Write streams the log in format (NDJSON or CSV) to w, flushing as it
// goes, with the download headers. An error cuts the stream short; the
// status is sent by then, so the caller can only log it.
func Write(ctx context.Context, w http.ResponseWriter, format string, each Each, lang string, zone *time.Location) error {
	h := w.Header()
	h.Set("Content-Disposition", `attachment; filename="security-log.`+format+`"`)
	if format == CSV {
		h.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	rc := http.NewResponseController(w) // reaches the connection through wrappers
	flush := func() { _ = rc.Flush() }
	var write func(Entry) error
	var done func() error
	if format == CSV {
		cw := spreadsheetWriter{csv.NewWriter(w)}
		_ = cw.Write([]string{"time", "type", "summary", "actor", "credential_kind", "credential_id", "client_ip", "user_agent", "correlation_id", "id"})
		write = func(v Entry) error {
			kind, id := "", ""
			if v.Credential != nil {
				kind, id = v.Credential.Kind, v.Credential.ID
			}
			return cw.Write([]string{v.Time, v.Type, v.Summary, v.Actor, kind, id, v.ClientIP, v.UserAgent, v.CorrelationID, v.ID})
		}
		done = func() error { cw.Flush(); return cw.Error() }
	} else { // JSON lines are not opened by spreadsheets: values stay as they are
		enc := json.NewEncoder(w)
		write = func(v Entry) error { return enc.Encode(v) }
		done = func() error { return nil }
	}
	n := 0
	err := each(ctx, func(e projections.AuditEntry) error {
		if err := write(Of(e, lang, zone)); err != nil {
			return err
		}
		if n++; n%256 == 0 {
			if err := done(); err != nil {
				return err
			}
			flush()
		}
		return nil
	})
	if derr := done(); err == nil {
		err = derr
	}
	flush()
	return err
}

// spreadsheetWriter writes CSV rows whose every cell is SpreadsheetCell'd,
// so no cell of an export can be left out.
type spreadsheetWriter struct{ *csv.Writer }

func (w spreadsheetWriter) Write(row []string) error {
	safe := make([]string, len(row))
	for i, cell := range row {
		safe[i] = SpreadsheetCell(cell)
	}
	return w.Writer.Write(safe)
}

// SpreadsheetCell makes a CSV cell safe to open in a spreadsheet (OWASP
// "CSV injection"): a cell that begins with =, +, -, @, a tab or a carriage
// return is read as a formula by Excel, LibreOffice and Google Sheets, so
// it gets a leading apostrophe and is shown as text. A user agent, a name
// or an address is the attacker's to choose; the apostrophe is visible, a
// small price for a download that cannot run anything.
func SpreadsheetCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
