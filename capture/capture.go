// Package capture holds the sources of the pipeline, one sub-package each:
// testsrc (the moving test pattern and tone behind `--source test`) now;
// cameras (V4L2), microphones and media files next. A source stamps every
// frame with its capture time on the pipeline clock and never waits for
// anyone downstream.
package capture
