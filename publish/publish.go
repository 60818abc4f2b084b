// Package publish holds what every destination shares: the errors callers
// act on, the send queue, reconnection and the latency histogram. Each
// protocol lives in a sub-package (publish/rtmp, …).
package publish

import "errors"

var (
	// ErrUnauthorized: the server refused to let us publish (wrong key,
	// wrong app, publishing denied).
	ErrUnauthorized = errors.New("server refused the publish")
	// ErrConnect: the server could not be reached or did not answer in time.
	ErrConnect = errors.New("cannot connect")
	// ErrBadURL: the destination URL is not usable.
	ErrBadURL = errors.New("bad URL")
)

// ErrLost: a live connection was lost. It matches ErrConnect too (the
// same exit code), but says what happened.
var ErrLost error = lostError{}

type lostError struct{}

func (lostError) Error() string        { return "connection lost" }
func (lostError) Is(target error) bool { return target == ErrConnect }
