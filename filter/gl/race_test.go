//go:build race

package gl

// sync.Pool drops a random share of what is put back under the race
// detector, so pooled frames are then sometimes allocated anew.
const raceEnabled = true
