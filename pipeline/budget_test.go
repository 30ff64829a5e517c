package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spreadRun calls Spread over n items, recording how often each ran and
// the most items that ran at once.
func spreadRun(ctx context.Context, n int, f func(i int) error) (runs []int32, peak int32, err error) {
	runs = make([]int32, n)
	var cur atomic.Int32
	var mu sync.Mutex
	err = Spread(ctx, n, func(i int) error {
		c := cur.Add(1)
		mu.Lock()
		peak = max(peak, c)
		mu.Unlock()
		defer cur.Add(-1)
		atomic.AddInt32(&runs[i], 1)
		return f(i)
	})
	return runs, peak, err
}

func TestSpreadRunsEachItemOnceAndReportsTheLowestError(t *testing.T) {
	ctx := WithParallelism(context.Background(), 3)
	runs, _, err := spreadRun(ctx, 50, func(int) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range runs {
		if r != 1 {
			t.Fatalf("item %d ran %d times", i, r)
		}
	}
	e3, e7 := errors.New("three"), errors.New("seven")
	// Serial (no budget): items stop after the first failure, which wins.
	_, _, err = spreadRun(context.Background(), 10, func(i int) error {
		switch i {
		case 3:
			return e3
		case 7:
			return e7
		}
		return nil
	})
	if !errors.Is(err, e3) {
		t.Fatalf("err = %v, want the error of item 3", err)
	}
}

// With a free slot, Spread borrows it: item 0 waits until item 1 has
// started, which only a second goroutine can do.
func TestSpreadBorrowsAnIdleSlot(t *testing.T) {
	ws := &workerSlots{c: make(chan struct{}, 2)}
	slots := ws.c
	slots <- struct{}{} // the task's own slot
	ctx := withSlots(WithParallelism(context.Background(), 2), ws)
	started := make(chan struct{})
	_, peak, err := spreadRun(ctx, 2, func(i int) error {
		if i == 1 {
			close(started)
			return nil
		}
		select {
		case <-started:
			return nil
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			return fmt.Errorf("item 1 never started beside item 0")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if peak != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak)
	}
	if len(slots) != 1 {
		t.Fatalf("%d slots held after Spread, want the task's own 1 (borrowed slot not returned)", len(slots))
	}
}

// When every slot is held (two tasks side by side on two workers), Spread
// keeps to the calling goroutine, however large the budget.
func TestSpreadKeepsToItsGoroutineWhenNoSlotIsIdle(t *testing.T) {
	ws := &workerSlots{c: make(chan struct{}, 2)}
	ws.c <- struct{}{}
	ws.c <- struct{}{}
	ctx := withSlots(WithParallelism(context.Background(), 2), ws)
	self := goroutineID()
	var other atomic.Int32
	runs, _, err := spreadRun(ctx, 20, func(int) error {
		if goroutineID() != self {
			other.Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := other.Load(); n != 0 {
		t.Fatalf("%d items ran on another goroutine with no idle slot", n)
	}
	for i, r := range runs {
		if r != 1 {
			t.Fatalf("item %d ran %d times", i, r)
		}
	}
}

// goroutineID is the running goroutine's number, from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	return f[1] // "goroutine N [running]:"
}
