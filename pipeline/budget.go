package pipeline

import "context"

type parallelismKey struct{}

// WithParallelism records on ctx how many goroutines a task may keep busy.
func WithParallelism(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, parallelismKey{}, n)
}

// Parallelism is how many goroutines a task running under ctx may keep
// busy: the run's worker count, so one worker means one core and a task
// that spreads its work (feature passes, model fits) over goroutines
// holds at most that many of its big buffers at once. Outside a runner it
// is 1. A task's output must not depend on it.
func Parallelism(ctx context.Context) int {
	if n, ok := ctx.Value(parallelismKey{}).(int); ok && n > 0 {
		return n
	}
	return 1
}
