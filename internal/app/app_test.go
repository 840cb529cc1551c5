package app_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"go.mongodb.org/mongo-driver/bson"
	_ "modernc.org/sqlite"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/metrics"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

func ptr(s string) *string { return &s }

func meta() events.Metadata {
	return events.Metadata{CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1"}
}

func register(t *testing.T, a *app.App, name string) string {
	t.Helper()
	reg, err := a.Commands.RegisterUser(t.Context(), commands.RegisterUser{Username: name, Password: "correct7horse"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	return reg.User.ID
}

func fullName(t *testing.T, a *app.App, id string) string {
	t.Helper()
	var doc projections.UserDoc
	if err := a.Platform.DB.Collection(projections.UsersCollection).FindOne(t.Context(), bson.M{"_id": id}).Decode(&doc); err != nil {
		return ""
	}
	return doc.Get("full_name")
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A projector whose durable consumer disappears is restarted by the
// supervisor, recreates its consumer and catches up, while the service
// keeps running.
func TestSupervisorRecreatesADeletedConsumer(t *testing.T) {
	t.Parallel()
	a, _ := testenv.App(t, app.Config{}, "")
	ctx := t.Context()
	id := register(t, a, "ada")
	eventually(t, "first projection", func() bool { return a.Progress.Applied("users") > 0 })
	if err := a.Platform.JetStream.DeleteConsumer(ctx, app.FeedStream, projections.UsersProjector().Name); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "After the crash"}}, meta()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "projection after the consumer was deleted", func() bool { return fullName(t, a, id) == "After the crash" })
	st, _ := a.Supervisor.Of("projector/users")
	if st.Restarts < 1 || !st.Running || st.LastError == "" {
		t.Fatalf("supervisor status %+v", st)
	}
	if _, err := a.Platform.JetStream.Consumer(ctx, app.FeedStream, "users"); err != nil {
		t.Fatalf("consumer not recreated: %v", err)
	}
}

type readiness struct {
	Ready      bool `json:"ready"`
	Components []struct {
		Name      string `json:"name"`
		OK        bool   `json:"ok"`
		LagEvents uint64 `json:"lag_events"`
	} `json:"components"`
}

func readyz(t *testing.T, url string) (int, readiness) {
	t.Helper()
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r readiness
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, r
}

// /readyz is 503 while a read model is further behind than allowed (its
// database is locked by someone else), and 200 once it has caught up.
func TestReadyzFollowsProjectorLag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, srv := testenv.App(t, app.Config{ReadyMaxLagEvents: 3}, dir)
	ctx := t.Context()
	id := register(t, a, "grace")
	// Personal data is sealed with the account's data key, which lives in
	// the database this test locks: make it exist first.
	if _, err := a.Commands.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": "Grace"}}, meta()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready at start", func() bool { code, _ := readyz(t, srv.URL); return code == http.StatusOK })

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ferretdb", "accounts.sqlite")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := a.Commands.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{"full_name": fmt.Sprint("Grace ", i)}}, meta()); err != nil {
			t.Fatal(err)
		}
	}
	// The relay is not blocked: once it has forwarded the burst, only the
	// users projector is behind.
	eventually(t, "503 while the read model is behind, and only the read model", func() bool {
		code, r := readyz(t, srv.URL)
		usersBehind, relayOK := false, false
		for _, c := range r.Components {
			switch c.Name {
			case "projector/users":
				usersBehind = !c.OK && c.LagEvents > 3
			case "relay":
				relayOK = c.OK
			}
		}
		return code == http.StatusServiceUnavailable && usersBehind && relayOK
	})
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	eventually(t, "200 after catching up", func() bool { code, _ := readyz(t, srv.URL); return code == http.StatusOK })
	if got := fullName(t, a, id); got != "Grace 9" {
		t.Fatalf("read model has %q", got)
	}
}

// /metrics is Prometheus text with every documented metric.
func TestMetricsAreExposed(t *testing.T) {
	t.Parallel()
	a, srv := testenv.App(t, app.Config{SignInLimits: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 1, Every: time.Hour}}}, "")
	register(t, a, "linus")
	for range 3 {
		res, err := http.Post(srv.URL+"/v1/sessions", "application/json", strings.NewReader(`{"username":"linus","password":"wrong7horse"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if res, err := http.Get(srv.URL + "/v1/nowhere"); err == nil {
		res.Body.Close()
	}
	eventually(t, "lag sampled", func() bool { code, _ := readyz(t, srv.URL); return code == http.StatusOK })
	res, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		metrics.HTTPRequests, metrics.HTTPDuration, metrics.Commands, metrics.CommandDuration, metrics.SignInThrottled,
		metrics.RelayLagEvents, metrics.RelayLagSeconds, metrics.ProjectorLagEvents, metrics.ProjectorLagSeconds,
		metrics.PrincipalsLagEvents, metrics.PrincipalsLagSeconds, metrics.Sessions,
	} {
		if families[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	routes := map[string]bool{}
	for _, m := range families[metrics.HTTPRequests].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				routes[l.GetValue()] = true
			}
		}
	}
	if !routes["/v1/sessions"] || !routes["unmatched"] || routes["/v1/nowhere"] {
		t.Errorf("route labels %v", routes)
	}
	outcomes := map[string]float64{}
	for _, m := range families[metrics.Commands].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		outcomes[labels["command"]+"/"+labels["outcome"]] = m.GetCounter().GetValue()
	}
	if outcomes["register_user/ok"] != 1 || outcomes["sign_in/denied"] != 1 || outcomes["sign_in/throttled"] != 2 {
		t.Errorf("command outcomes %v", outcomes)
	}
}

// A read model whose code is newer than what built it is rebuilt in the
// background at start and swapped in, while the old one serves.
func TestNewerProjectionIsRebuiltAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, srv := testenv.App(t, app.Config{}, dir)
	ids := []string{register(t, first, "ada"), register(t, first, "grace")}
	eventually(t, "projected", func() bool { return fullName(t, first, ids[1]) == "" && first.Progress.Applied("users") > 0 })
	srv.Close()
	first.Close()

	ps := projections.Projectors()
	for i := range ps {
		if ps[i].Name == "users" {
			ps[i].Version = 2
		}
	}
	a, _ := testenv.App(t, app.Config{Projectors: ps, SwapGrace: 100 * time.Millisecond}, dir)
	eventually(t, "rebuilt and swapped in", func() bool {
		g := a.Catalog.Live("users")
		return g.Number == 1 && g.Version == 2
	})
	if _, err := a.Commands.UpdateProfile(t.Context(), commands.UpdateProfile{UserID: ids[0], Change: commands.ProfileChange{"full_name": "After"}}, meta()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new generation follows new writes", func() bool {
		var doc projections.UserDoc
		err := a.Platform.DB.Collection("users__g1").FindOne(t.Context(), bson.M{"_id": ids[0]}).Decode(&doc)
		return err == nil && doc.Get("full_name") == "After"
	})
	// The old generation is dropped after its grace period.
	eventually(t, "old generation dropped", func() bool {
		n, _ := a.Platform.DB.Collection("users").CountDocuments(t.Context(), bson.M{})
		return n == 0
	})
}
