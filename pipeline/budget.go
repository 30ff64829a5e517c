package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

type parallelismKey struct{}

type slotsKey struct{}

// WithParallelism records on ctx how many goroutines a task may keep busy.
func WithParallelism(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, parallelismKey{}, n)
}

// workerSlots are a run's worker slots: a running task holds one, Spread
// borrows the idle ones, and waiting counts the workers blocked on one.
type workerSlots struct {
	c       chan struct{}
	waiting atomic.Int32
}

// withSlots records the run's worker slots on ctx.
func withSlots(ctx context.Context, ws *workerSlots) context.Context {
	return context.WithValue(ctx, slotsKey{}, ws)
}

// Parallelism is how many goroutines a task running under ctx may keep
// busy: the run's worker count, so one worker means one core. Outside a
// runner it is 1. A task's output must not depend on it.
func Parallelism(ctx context.Context) int {
	if n, ok := ctx.Value(parallelismKey{}).(int); ok && n > 0 {
		return n
	}
	return 1
}

// Spread calls f(i) for every i in [0, n) on the calling goroutine and on
// helpers, at most Parallelism(ctx) at once, and returns the error of the
// lowest failing i. Under a runner a helper runs only on a worker slot no
// task holds, and gives it back after its item as soon as a worker waits
// for one: two tasks side by side keep one goroutine each and their big
// per-goroutine buffers follow the cores in use (the month backfill's
// 512 MiB), while a task left alone spreads over the slots the others
// free. f must write only i's own results.
func Spread(ctx context.Context, n int, f func(i int) error) error {
	var slots chan struct{}
	var waiting *atomic.Int32
	if ws, _ := ctx.Value(slotsKey{}).(*workerSlots); ws != nil {
		slots, waiting = ws.c, &ws.waiting
	}
	limit := Parallelism(ctx)
	errs := make([]error, n)
	var (
		next    atomic.Int64
		failed  atomic.Bool
		helpers atomic.Int32
		wg      sync.WaitGroup
	)
	take := func() (int, bool) {
		i := int(next.Add(1) - 1)
		return i, i < n && !failed.Load() && ctx.Err() == nil
	}
	do := func(i int) {
		if errs[i] = f(i); errs[i] != nil {
			failed.Store(true)
		}
	}
	acquire := func() bool {
		if slots == nil {
			return true
		}
		select {
		case slots <- struct{}{}:
			return true
		default:
			return false
		}
	}
	release := func() {
		if slots != nil {
			<-slots
		}
	}
	borrow := func() bool {
		if int(helpers.Load()) >= limit-1 || int(next.Load()) >= n-1 || !acquire() {
			return false
		}
		helpers.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer helpers.Add(-1)
			defer release()
			for {
				i, ok := take()
				if !ok {
					return
				}
				do(i)
				if waiting != nil && waiting.Load() > 0 {
					return // a worker needs the slot for its task
				}
			}
		}()
		return true
	}
	for {
		for borrow() {
		}
		i, ok := take()
		if !ok {
			break
		}
		do(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
