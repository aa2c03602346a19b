// Package deferred: work collected while a lock is held, run after it is released.
package deferred

// Queue of functions; the zero value is ready to use.
type Queue struct {
	fns []func()
}

// Defer adds f to the queue.
func (q *Queue) Defer(f func()) {
	q.fns = append(q.fns, f)
}

// Run calls the queued functions in the order they were added (including any they add)
// and empties the queue.
func (q *Queue) Run() {
	for len(q.fns) > 0 {
		f := q.fns[0]
		q.fns = q.fns[1:]
		f()
	}
}
