// Package filter is the pre-processing stage between capture and encode:
// beauty, watermark, text and colour, as OpenGL ES shaders on a GPU or as a
// libavfilter graph on CPU-only machines. This version has no filters:
// frames go from the source straight to the encoder.
package filter
