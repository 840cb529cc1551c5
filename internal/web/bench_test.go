package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/testenv"
)

// BenchmarkTokensPage: GET /settings/tokens by 64 signed-in people at once,
// each with 5 tokens, one request in flight each (closed loop) for 10 s
// after a 2 s warm-up. Reports the time to first byte (p50, p99), pages/s
// and the page's size.
//
//	go test -run X -bench TokensPage -benchtime 1x ./internal/web
func BenchmarkTokensPage(b *testing.B) {
	const clients, tokensEach = 64, 5
	_, srv := testenv.App(b, app.Config{RegistrationLimit: commands.Rate{Burst: 1000, Every: time.Minute}}, "")
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	b.Cleanup(transport.CloseIdleConnections)
	post := func(path, cookie string, form url.Values) (*http.Response, error) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		return res, res.Body.Close()
	}
	cookies := make([]string, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := post("/signup", "", url.Values{"username": {fmt.Sprintf("reader%d", i)}, "password": {"correct7horse"}})
			if err != nil || res.StatusCode != http.StatusSeeOther {
				errs <- fmt.Errorf("sign-up %d: %v %v", i, err, res)
				return
			}
			for _, c := range res.Cookies() {
				if strings.HasSuffix(c.Name, "accountd_session") {
					cookies[i] = c.Name + "=" + c.Value
				}
			}
			for n := range tokensEach {
				form := url.Values{"title": {fmt.Sprintf("token %d", n)}, "scopes": {"profile:read"}, "expires": {time.Now().AddDate(0, 0, 30).Format("2006-01-02")}, "enabled": {"on"}}
				if res, err := post("/settings/tokens/new", cookies[i], form); err != nil || res.StatusCode != http.StatusSeeOther {
					errs <- fmt.Errorf("token %d/%d: %v %v", i, n, err, res)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var size int
	b.ResetTimer()
	for range b.N {
		ttfb := make([][]time.Duration, clients)
		from := time.Now().Add(2 * time.Second)
		to := from.Add(10 * time.Second)
		samples, err := benchkit.ClosedLoop(context.Background(), clients, from, to, func(w int) benchkit.Op {
			return func(ctx context.Context, _ int) error {
				var first time.Time
				trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", srv.URL+"/settings/tokens", nil)
				req.Header.Set("Cookie", cookies[w])
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					return err
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					return err
				}
				if res.StatusCode != http.StatusOK || strings.Count(string(body), "<tr>") != tokensEach+1 {
					return fmt.Errorf("status %d, %d rows", res.StatusCode, strings.Count(string(body), "<tr>"))
				}
				size = len(body)
				if now := time.Now(); !now.Before(from) && now.Before(to) {
					ttfb[w] = append(ttfb[w], first.Sub(t0))
				}
				return nil
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		if samples.Errors > 0 {
			b.Fatalf("%d errors, first: %v", samples.Errors, samples.FirstErr)
		}
		all := slices.Concat(ttfb...)
		slices.Sort(all)
		b.ReportMetric(float64(len(samples.Lat))/to.Sub(from).Seconds(), "pages/s")
		b.ReportMetric(float64(benchkit.Percentile(all, 50).Microseconds())/1000, "ms-ttfb-p50")
		b.ReportMetric(float64(benchkit.Percentile(all, 99).Microseconds())/1000, "ms-ttfb-p99")
		b.ReportMetric(float64(size)/1024, "KiB/page")
	}
}
