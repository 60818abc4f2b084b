package media

// VideoWriter takes raw video frames. Ownership passes with the call: the
// callee releases the frame when done with it.
type VideoWriter interface {
	WriteVideo(f *VideoFrame) error
}

// VideoWriterFunc adapts a function to VideoWriter.
type VideoWriterFunc func(f *VideoFrame) error

func (fn VideoWriterFunc) WriteVideo(f *VideoFrame) error { return fn(f) }

// AudioWriter takes raw audio frames. The callee must not keep the frame
// (or its Samples) after it returns.
type AudioWriter interface {
	WriteAudio(f *AudioFrame) error
}

// AudioWriterFunc adapts a function to AudioWriter.
type AudioWriterFunc func(f *AudioFrame) error

func (fn AudioWriterFunc) WriteAudio(f *AudioFrame) error { return fn(f) }

// PacketWriter takes encoded packets. Packets are immutable: the callee may
// keep them as long as it wants, without copying.
type PacketWriter interface {
	WritePacket(p *Packet) error
}

// PacketWriterFunc adapts a function to PacketWriter.
type PacketWriterFunc func(p *Packet) error

func (fn PacketWriterFunc) WritePacket(p *Packet) error { return fn(p) }

// BitrateController is the upstream control an encoder offers to whoever
// watches the network (the adaptive-bitrate controller).
type BitrateController interface {
	SetBitrate(bps int)
	Bitrate() int
}

// KeyframeRequester asks an encoder to make the next frame a keyframe.
type KeyframeRequester interface {
	RequestKeyframe()
}
