// Package mutex: a mutex that owns the value it guards.
package mutex

import "sync"

// Mutex guards a value of type T.
type Mutex[T any] struct {
	mu  sync.Mutex
	val T
}

// New returns a Mutex holding v.
func New[T any](v T) Mutex[T] {
	return Mutex[T]{val: v}
}

// Locked is a held lock: access to the value until Unlock.
type Locked[T any] struct {
	m *Mutex[T]
}

// Lock acquires the mutex.
func (m *Mutex[T]) Lock() *Locked[T] {
	m.mu.Lock()
	return &Locked[T]{m: m}
}

// Value is the guarded value; valid until Unlock.
func (l *Locked[T]) Value() *T {
	return &l.m.val
}

// Unlock releases the mutex.
func (l *Locked[T]) Unlock() {
	l.m.mu.Unlock()
}

// With calls f with the value while holding the lock.
func (m *Mutex[T]) With(f func(*T)) {
	l := m.Lock()
	defer l.Unlock()
	f(l.Value())
}

// With1 is With returning one value.
func With1[T, A any](m *Mutex[T], f func(*T) A) A {
	l := m.Lock()
	defer l.Unlock()
	return f(l.Value())
}

// With2 is With returning two values.
func With2[T, A, B any](m *Mutex[T], f func(*T) (A, B)) (A, B) {
	l := m.Lock()
	defer l.Unlock()
	return f(l.Value())
}

// With3 is With returning three values.
func With3[T, A, B, C any](m *Mutex[T], f func(*T) (A, B, C)) (A, B, C) {
	l := m.Lock()
	defer l.Unlock()
	return f(l.Value())
}

// With4 is With returning four values.
func With4[T, A, B, C, D any](m *Mutex[T], f func(*T) (A, B, C, D)) (A, B, C, D) {
	l := m.Lock()
	defer l.Unlock()
	return f(l.Value())
}
