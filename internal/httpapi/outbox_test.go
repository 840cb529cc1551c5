package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/mailer/mailtest"
	"github.com/accountd/accountd/internal/testenv"
)

// The service sends its outbox to a real SMTP server (in-process): a mail
// the relay refuses stays in GET /v1/admin/outbox with its attempts and
// last error; one it accepts arrives (text and HTML, in the user's
// language) and leaves the outbox; /metrics counts both.
func TestOutboxDeliveryOverHTTP(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		refuse bool
	}{
		{"refused", true},
		{"delivered", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := mailtest.Options{NoTLS: true}
			if tt.refuse {
				opts.Refuse = func(string) error {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"}
				}
			}
			relay := mailtest.Start(t, opts)
			a, srv := testenv.App(t, app.Config{Admins: []string{"margaret"}, SMTP: relay.URL("accounts@example.com"), MailEvery: 100 * time.Millisecond}, "")
			admin := signUp(t, srv, "margaret", nil)
			ada := signUp(t, srv, "ada", map[string]any{"email": "ada@example.com"})
			ada.expect(http.StatusNoContent, ada.do("PUT", "/v1/me/password", map[string]any{"current_password": "correct7horse", "new_password": "battery7staple", "confirm_password": "battery7staple"}))

			outcome := "sent"
			if tt.refuse {
				outcome = "failed"
				var mail map[string]any
				eventually(t, "a failed attempt in the outbox", func() bool {
					for _, m := range admin.expect(http.StatusOK, admin.do("GET", "/v1/admin/outbox", nil)).json(t)["emails"].([]any) {
						if mm := m.(map[string]any); mm["to"] == "ada@example.com" && mm["attempts"].(float64) >= 1 {
							mail = mm
						}
					}
					return mail != nil
				})
				if e, _ := mail["last_error"].(string); !strings.Contains(e, "451") || strings.Contains(e, "busy") || mail["next_attempt_at"] == nil {
					t.Fatalf("outbox entry %v", mail)
				}
				if len(relay.Messages()) != 0 {
					t.Fatal("a refused mail arrived")
				}
			} else {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				msgs, err := relay.Wait(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				p, err := msgs[0].Parse()
				if err != nil {
					t.Fatal(err)
				}
				if subject, _ := p.Subject(); subject != "Your password was changed" || msgs[0].To[0] != "ada@example.com" ||
					p.Header.Get("Content-Language") != "en" || !strings.Contains(p.Text, "ada") || !strings.Contains(p.HTML, `<html lang="en">`) {
					t.Fatalf("received %s", msgs[0].Data)
				}
				eventually(t, "the sent mail out of the outbox", func() bool {
					return len(admin.expect(http.StatusOK, admin.do("GET", "/v1/admin/outbox", nil)).json(t)["emails"].([]any)) == 0
				})
			}
			want := `accountd_emails_total{kind="password_changed",outcome="` + outcome + `"}`
			eventually(t, want, func() bool {
				res, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return strings.Contains(string(body), want)
			})
		})
	}
}
