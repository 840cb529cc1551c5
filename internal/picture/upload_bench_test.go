package picture_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/picture"
	"github.com/accountd/accountd/internal/testenv"
)

// BenchmarkUploadOverHTTP: PUT /v1/me/picture with a 2 MiB JPEG through the
// whole service (decode, re-encode, seal, append, project), two uploaders
// at once on this 2-core machine, alternating two pictures so every
// upload is stored. Reports uploads/s and the latency percentiles.
//
//	go test -run X -bench UploadOverHTTP -benchtime 1x ./internal/picture
func BenchmarkUploadOverHTTP(b *testing.B) {
	_, srv := testenv.App(b, app.Config{}, "")
	post := func(path string, body any) map[string]any {
		raw, _ := json.Marshal(body)
		res, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out
	}
	pics := [][]byte{picture.NoiseJPEG(b, 1520, 1520), picture.NoiseJPEG(b, 1519, 1520)}
	const workers, perWorker = 2, 20
	tokens := make([]string, workers)
	for i := range tokens {
		name := []string{"uploader", "another"}[i]
		post("/v1/users", map[string]any{"username": name, "password": "correct7horse"})
		tokens[i] = post("/v1/sessions", map[string]any{"username": name, "password": "correct7horse"})["token"].(string)
	}
	b.ResetTimer()
	for range b.N {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					req, _ := http.NewRequest("PUT", srv.URL+"/v1/me/picture", bytes.NewReader(pics[i%2]))
					req.Header.Set("Authorization", "Bearer "+tokens[w])
					req.Header.Set("Content-Type", "image/jpeg")
					t0 := time.Now()
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		slices.Sort(lat)
		b.ReportMetric(float64(len(lat))/took.Seconds(), "uploads/s")
		b.ReportMetric(float64(benchkit.Percentile(lat, 50).Milliseconds()), "ms-p50")
		b.ReportMetric(float64(benchkit.Percentile(lat, 99).Milliseconds()), "ms-p99")
		b.ReportMetric(float64(len(pics[0]))/(1<<20), "MiB/upload")
	}
}
