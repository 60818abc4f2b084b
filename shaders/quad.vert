#version 300 es
// One triangle that covers the viewport: no vertex buffer to own. The
// fragment shaders work from gl_FragCoord, so nothing is passed on.
void main() {
	vec2 p = vec2(float((gl_VertexID & 1) << 2), float((gl_VertexID & 2) << 1)) - 1.0;
	gl_Position = vec4(p, 0.0, 1.0);
}
