package picture_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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

// BenchmarkConcurrentPNGUploadMemory: 16 uploads at once, each of a 30 KB
// all-zero 2800 x 2800 PNG (7.8 megapixels, within the decode budget),
// through the whole service, from 16 accounts. Reports the peak resident
// memory above idle (Linux: VmHWM after resetting it), the uploads kept
// and those refused as busy.
//
//	go test -run X -bench ConcurrentPNGUploadMemory -benchtime 1x ./internal/picture
func BenchmarkConcurrentPNGUploadMemory(b *testing.B) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		b.Skip("needs Linux's /proc/self/clear_refs")
	}
	_, srv := testenv.App(b, app.Config{}, "")
	var zero bytes.Buffer
	if err := png.Encode(&zero, image.NewNRGBA(image.Rect(0, 0, 2800, 2800))); err != nil {
		b.Fatal(err)
	}
	const uploads = 16
	tokens := make([]string, uploads)
	for i := range tokens {
		name := fmt.Sprintf("uploader%d", i)
		for _, path := range []string{"/v1/users", "/v1/sessions"} {
			raw, _ := json.Marshal(map[string]any{"username": name, "password": "correct7horse"})
			res, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			out := map[string]any{}
			_ = json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if tok, ok := out["token"].(string); ok {
				tokens[i] = tok
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		debug.FreeOSMemory()
		idle := procStatusKiB(b, "VmRSS")
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil { // resets VmHWM to VmRSS
			b.Fatal(err)
		}
		statuses := make([]int, uploads)
		var wg sync.WaitGroup
		for i := range uploads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("PUT", srv.URL+"/v1/me/picture", bytes.NewReader(zero.Bytes()))
				req.Header.Set("Authorization", "Bearer "+tokens[i])
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				statuses[i] = res.StatusCode
			}()
		}
		wg.Wait()
		peak := procStatusKiB(b, "VmHWM")
		kept, busy := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				kept++
			case http.StatusServiceUnavailable:
				busy++
			default:
				b.Errorf("status %d", s)
			}
		}
		b.ReportMetric(float64(peak-idle)/1024, "MiB-peak-above-idle")
		b.ReportMetric(float64(idle)/1024, "MiB-idle")
		b.ReportMetric(float64(kept), "kept")
		b.ReportMetric(float64(busy), "busy")
		b.ReportMetric(float64(zero.Len())/1024, "KiB/upload")
	}
}

// procStatusKiB reads a "Name: N kB" line of /proc/self/status.
func procStatusKiB(b *testing.B, name string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc/self/status", name)
	return 0
}
