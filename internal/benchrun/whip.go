package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/golive/golive/internal/testpeer"
)

// whipResult is one WHIP push: its CPU, the times from process start to
// ICE+DTLS connected and to the first video packet, and the latency.
type whipResult struct {
	cpu                 time.Duration
	rssKB               int64
	connected, firstRTP time.Duration
	p50, p99            int64
	frames              int // frames the endpoint received
}

// whipRounds pushes the 720p30 preset over WHIP to an in-process pion
// answerer on loopback, alternating with the same push over RTMP to nginx:
// the CPU ratio is what the WebRTC stack (SRTP, RTP packetisation, the
// interceptors, Opus instead of AAC) costs over the RTMP path.
func whipRounds(bin string, n *testpeer.Nginx, dur time.Duration, rounds int) (w []whipResult, rt []result, err error) {
	for r := 0; r < rounds; r++ {
		ep, err := testpeer.NewWHIPEndpoint(testpeer.EndpointOptions{})
		if err != nil {
			return nil, nil, err
		}
		res, err := pushWHIP(bin, strings.Replace(ep.URL, "http://", "whip://", 1), dur)
		res.frames = ep.Frames()
		ep.Close()
		if err != nil {
			return nil, nil, err
		}
		w = append(w, res)
		fmt.Printf("round %d golive WHIP: cpu %v rss %d MiB connected %v first RTP %v frames %d latency p50 %d ms p99 %d ms\n", r+1,
			res.cpu.Round(time.Millisecond), res.rssKB/1024, res.connected.Round(time.Millisecond), res.firstRTP.Round(time.Millisecond), res.frames, res.p50, res.p99)
		rr, err := pushGolive(bin, n, fmt.Sprintf("whiprtmp%d", r), dur)
		if err != nil {
			return nil, nil, err
		}
		rt = append(rt, rr)
		fmt.Printf("round %d golive RTMP: cpu %v rss %d MiB\n", r+1, rr.cpu.Round(time.Millisecond), rr.rssKB/1024)
	}
	return w, rt, nil
}

func pushWHIP(bin, url string, dur time.Duration) (whipResult, error) {
	cmd := exec.Command(bin, "push", "--preset", "720p30", "--duration", dur.String(), "--log-format", "json", "--status", "off", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return whipResult{}, fmt.Errorf("golive whip: %w\n%s", err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	res := whipResult{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssKB: ru.Maxrss}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		var line struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
			P50  int64     `json:"latency_p50_ms"`
			P99  int64     `json:"latency_p99_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line.Msg {
		case "publishing": // logged once ICE and DTLS are up
			res.connected = line.Time.Sub(start)
		case "first video packet sent":
			res.firstRTP = line.Time.Sub(start)
		case "stopped":
			res.p50, res.p99 = line.P50, line.P99
		}
	}
	if res.connected == 0 || res.firstRTP == 0 {
		return res, fmt.Errorf("golive whip: no connected/first packet lines:\n%s", stderr.String())
	}
	return res, nil
}

func whipReport(b *strings.Builder, w []whipResult, rt []result, dur time.Duration) {
	fmt.Fprintf(b, "## WHIP: 720p30 for %v to a pion answerer on loopback\n\n", dur)
	fmt.Fprintf(b, "`golive push --preset 720p30 whip://…` (H.264 + Opus over SRTP, with NACK/RTX, RTCP reports, TWCC and GCC) against\n")
	fmt.Fprintf(b, "the same push over RTMP to nginx, alternating in the same run. The ffmpeg command line here (5.1) cannot publish WHIP\n")
	fmt.Fprintf(b, "(its WHIP muxer came in 7.1), so the reference is golive's own RTMP path. Times are from the process's start (exec) to\n")
	fmt.Fprintf(b, "its log lines: ICE+DTLS connected (`publishing`) and the first video RTP packet sent; they include opening the encoders.\n")
	fmt.Fprintf(b, "Latency: PTS at capture → the frame's last RTP packet handed to the socket.\n\n")
	fmt.Fprintf(b, "| round | WHIP CPU s | RTMP CPU s | CPU ratio | WHIP RSS MiB | RTMP RSS MiB | to connected ms | to first RTP ms | frames received | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	var wc, rc, conn, first []float64
	for i := range w {
		fmt.Fprintf(b, "| %d | %.2f | %.2f | %.2f | %.0f | %.0f | %d | %d | %d | %d | %d |\n", i+1, w[i].cpu.Seconds(), cpu(rt[i]), w[i].cpu.Seconds()/cpu(rt[i]),
			float64(w[i].rssKB)/1024, rss(rt[i]), w[i].connected.Milliseconds(), w[i].firstRTP.Milliseconds(), w[i].frames, w[i].p50, w[i].p99)
		wc, rc = append(wc, w[i].cpu.Seconds()), append(rc, cpu(rt[i]))
		conn, first = append(conn, float64(w[i].connected.Milliseconds())), append(first, float64(w[i].firstRTP.Milliseconds()))
	}
	fmt.Fprintf(b, "| **median** | %.2f | %.2f | **%.2f** | | | %.0f | %.0f | | | |\n\n", medianOf(wc), medianOf(rc), medianOf(wc)/medianOf(rc), medianOf(conn), medianOf(first))
	fmt.Fprintf(b, "Goal: latency p99 ≤ 50 ms.\n\n")
}
