package picture

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	g := NewGate(2, 20*time.Millisecond)
	first, err := g.Enter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second, err := g.Enter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Enter(t.Context()); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third while two decode: %v", err)
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := NewGate(1, time.Hour).enterFull(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller gone while waiting: %v", err)
	}
	first()
	second()
	if g.Busy() != 0 {
		t.Fatalf("%d slots still taken", g.Busy())
	}
	// A slot given back lets a waiting upload in.
	g = NewGate(1, time.Minute)
	leave, _ := g.Enter(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	var waited error
	go func() {
		defer wg.Done()
		l, err := g.Enter(t.Context())
		waited = err
		if err == nil {
			l()
		}
	}()
	time.Sleep(10 * time.Millisecond)
	leave()
	wg.Wait()
	if waited != nil || g.Busy() != 0 {
		t.Fatalf("the waiting upload: %v; %d slots taken after", waited, g.Busy())
	}
}

// enterFull fills the gate and then enters once more.
func (g *Gate) enterFull(ctx context.Context) (func(), error) {
	if _, err := g.Enter(context.Background()); err != nil {
		return nil, err
	}
	return g.Enter(ctx)
}
