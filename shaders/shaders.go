// Package shaders embeds the GLSL ES 3.00 sources the filter stage runs
// (beauty, watermark, text, colour). None ship in this version.
package shaders
