package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A short run goes through every phase without errors.
func TestQuickRun(t *testing.T) {
	var out bytes.Buffer
	err := bench(t.Context(), config{connections: 4, duration: 300 * time.Millisecond, warmup: 100 * time.Millisecond, passwordWorkers: 1, dataDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GET /v1/auth/whoami, token", "GET /v1/me, session", "PUT /v1/me/password"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
	for _, line := range strings.Split(out.String(), "\n")[2:] {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(line, "(") {
			t.Fatalf("errors in the run: %s", line)
		}
	}
}
