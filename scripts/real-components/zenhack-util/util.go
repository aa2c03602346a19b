// Package util: the helpers capnp uses.
package util

import "sync"

// Idempotent returns a function that calls f on its first call only.
func Idempotent(f func()) func() {
	var once sync.Once
	return func() { once.Do(f) }
}

// Chkfatal panics on a non-nil error.
func Chkfatal(err error) {
	if err != nil {
		panic(err)
	}
}
