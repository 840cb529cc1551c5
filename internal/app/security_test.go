package app_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/internal/tokens"
)

// The attack of a local process: append a session.started event for
// someone else's account straight into the event store, then use the token
// it made up. The event store refuses the append without credentials and
// with wrong ones, and the made-up token works nowhere, also after a
// restart.
func TestForgedSessionIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, srv := testenv.App(t, app.Config{}, dir)
	victim := register(t, a, "victim")
	sessionID := uuid.New()
	secret := "made-up-secret"
	forged := "acs_" + hex.EncodeToString(sessionID[:]) + "_" + secret
	data, _ := json.Marshal(events.SessionStartedV1{SessionID: sessionID.String(), UserID: victim, TokenDigest: tokens.Digest(secret), ExpiresAt: time.Now().Add(time.Hour)})
	event := esdb.EventData{EventID: uuid.New(), EventType: events.SessionStarted, ContentType: esdb.ContentTypeJson, Data: data}
	for name, tt := range map[string]struct {
		url  string
		want esdb.ErrorCode
	}{
		"no credentials":    {a.Platform.EventStore.URL(), esdb.ErrorCodeAccessDenied},
		"wrong credentials": {a.Platform.EventStore.URLFor("accountd", "guessed"), esdb.ErrorCodeUnauthenticated},
	} {
		cfg, err := esdb.ParseConnectionString(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Logger = esdb.NoopLogging()
		c, err := esdb.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AppendToStream(t.Context(), events.SessionStream(sessionID.String()), esdb.AppendToStreamOptions{}, event)
		c.Close()
		var e *esdb.Error
		if !errors.As(err, &e) || e.Code() != tt.want {
			t.Fatalf("%s: append %v, want code %d", name, err, tt.want)
		}
	}
	check := func(base string) {
		req, _ := http.NewRequest("GET", base+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+forged)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("forged token: %d", res.StatusCode)
		}
	}
	check(srv.URL)
	srv.Close()
	a.Close()
	_, srv = testenv.App(t, app.Config{}, dir)
	check(srv.URL)
}
