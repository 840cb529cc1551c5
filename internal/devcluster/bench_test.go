package devcluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/devcluster"
)

// BenchmarkReadsAcrossReplicas measures whoami and GET /v1/me through the
// proxy with 1 and with 3 replicas on the same machine (the replicas
// share its cores): the difference is what coordination and the standby
// work of the other replicas cost. Each size starts a cluster of its own
// (about 30 s, not measured).
//
//	go test -run '^$' -bench ReadsAcrossReplicas -benchtime 5s ./internal/devcluster
func BenchmarkReadsAcrossReplicas(b *testing.B) {
	buildFirst(b)
	for _, replicas := range []int{1, 3} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		c := startCluster(b, ctx, devcluster.Options{Replicas: replicas})
		username := "bench" + randomHex(6)
		post(b, ctx, c.ReplicaURL(0)+"/v1/users", `{"username":"`+username+`","password":"correct7horse"}`, http.StatusCreated, nil)
		var session struct {
			Token string `json:"token"`
		}
		post(b, ctx, c.ReplicaURL(0)+"/v1/sessions", `{"username":"`+username+`","password":"correct7horse"}`, http.StatusCreated, &session)
		for i := range replicas {
			eventually(b, ctx, func() error { return me(ctx, c.ReplicaURL(i), session.Token, username) })
		}
		for _, path := range []string{"/v1/auth/whoami", "/v1/me"} {
			b.Run(fmt.Sprintf("%s/replicas=%d", path, replicas), func(b *testing.B) {
				benchGet(b, ctx, c.ProxyURL()+path, session.Token)
			})
		}
		cancel()
		_ = c.Close()
	}
}

// benchGet GETs url with credential from parallel clients and reports the
// latency percentiles besides the time per request.
func benchGet(b *testing.B, ctx context.Context, url, credential string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+credential)
			started := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("GET %s: %s", url, res.Status)
				return
			}
			mine = append(mine, time.Since(started))
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(percentile(all, 50).Microseconds()), "p50-µs")
		b.ReportMetric(float64(percentile(all, 99).Microseconds()), "p99-µs")
	}
}
