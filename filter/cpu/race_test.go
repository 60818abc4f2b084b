//go:build race

package cpu

// The race detector makes sync.Pool (media.FramePool) drop a share of what
// it is given back, so frames are allocated anew now and then.
const raceEnabled = true
