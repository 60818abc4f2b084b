// Package capture holds the sources of the pipeline, one sub-package each:
// testsrc (the moving test pattern and tone behind `--source test`), v4l2
// (cameras), audio (microphones), file (media files), pipe (raw video on
// standard input, as a Raspberry Pi camera gives it) and failover (the
// slate and silence that stand in for a lost device). A source stamps
// every frame with its capture time on the pipeline clock and never waits
// for anyone downstream.
package capture
