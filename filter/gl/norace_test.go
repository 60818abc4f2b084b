//go:build !race

package gl

const raceEnabled = false
