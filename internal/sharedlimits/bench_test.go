package sharedlimits_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/coord"
	"github.com/accountd/accountd/internal/sharedlimits"
)

// The cost of one counted attempt (Allow: a KV get and a compare-and-set
// update) against a NATS server in this process, beside the in-memory
// limits; a sign-in counts three (address, account+address, account) and
// gives two back when the password is right. Measured on 2 shared cores:
// memory 0.2-0.7 µs, shared 121-144 µs per Allow (wall time, NATS file
// storage on loopback).
//
//	go test -run '^$' -bench . -benchtime 2000x ./internal/sharedlimits
func BenchmarkAllow(b *testing.B) {
	js := jetStreamOn(b, startNATS(b))
	for _, bc := range []struct {
		name   string
		limits commands.Limits
	}{{"memory", commands.NewMemoryLimits(nil)}, {"shared", sharedlimits.New(coord.New(js, coord.Options{}), nil)}} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := bc.limits.Limiter(b.Context(), "bench-"+bc.name, commands.Rate{Burst: 1_000_000_000, Every: time.Nanosecond})
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				if _, _, err := l.Allow(b.Context(), fmt.Sprint("192.0.2.", i%250)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
