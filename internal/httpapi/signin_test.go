package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/devices"
	"github.com/accountd/accountd/internal/httpapi"
	"github.com/accountd/accountd/internal/testenv"
)

// A distributed guesser (22 addresses, 5 wrong passwords each: past the
// account's ceiling of 100) cannot lock the owner out: sent back in
// Accountd-Device, the value a sign-in answered with gets the owner in at
// once from anywhere, while an unknown device is limited as before.
func TestKnownDeviceSignsInThroughADistributedAttack(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "") // the default sign-in limits
	signUp(t, srv, "linus", nil)
	signIn := func(from, pw, device string) response {
		c := &client{t: t, base: srv.URL, from: from}
		var headers []string
		if device != "" {
			headers = []string{httpapi.DeviceHeader, device}
		}
		return c.do("POST", "/v1/sessions", map[string]any{"username": "linus", "password": pw}, headers...)
	}
	first := signIn("127.0.0.2", "correct7horse", "")
	if first.status != http.StatusCreated || len(first.header.Get(httpapi.DeviceHeader)) != devices.Len {
		t.Fatalf("first sign-in: %d %v", first.status, first.header)
	}
	laptop := first.header.Get(httpapi.DeviceHeader)

	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 22 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				s := signIn(fmt.Sprintf("127.0.0.%d", 10+i), "wrong7horse", "").status
				mu.Lock()
				statuses[s]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusUnauthorized] != 100 || statuses[http.StatusTooManyRequests] != 10 {
		t.Fatalf("attack: %v", statuses)
	}

	for _, tt := range []struct {
		name, from, device string
		want               int
	}{
		{"an unknown device", "127.0.0.50", "", http.StatusTooManyRequests},
		{"a made-up device", "127.0.0.50", "not-a-device-value", http.StatusTooManyRequests},
		{"the known device", "127.0.0.51", laptop, http.StatusCreated},
		{"the known device, from an attacking address", "127.0.0.10", laptop, http.StatusCreated},
	} {
		r := signIn(tt.from, "correct7horse", tt.device)
		if r.status != tt.want {
			t.Errorf("%s: %d, want %d: %s", tt.name, r.status, tt.want, r.body)
			continue
		}
		switch r.status {
		case http.StatusTooManyRequests:
			if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs <= 0 {
				t.Errorf("%s: Retry-After %q", tt.name, r.header.Get("Retry-After"))
			}
			if r.header.Get(httpapi.DeviceHeader) != "" {
				t.Errorf("%s: a refused sign-in gave a device value", tt.name)
			}
		case http.StatusCreated:
			if len(r.header.Get(httpapi.DeviceHeader)) != devices.Len {
				t.Errorf("%s: device value %q", tt.name, r.header.Get(httpapi.DeviceHeader))
			}
		}
	}
}
