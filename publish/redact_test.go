package publish

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"rtmp://live.example.com/app/SECRETKEY":         "rtmp://live.example.com/app/<key>",
		"rtmp://h/app/inst/SECRETKEY/":                  "rtmp://h/app/inst/<key>",
		"rtmp://h/app/k?token=SECRETKEY":                "rtmp://h/app/<key>",
		"rtmp://user:SECRETKEY@h/app/x":                 "rtmp://<credentials>@h/app/<key>",
		"not a url SECRETKEY":                           "not a url SECRETKEY",
		"rtmp://h/SECRETKEY":                            "rtmp://h/<key>",
		"rtmp://h":                                      "rtmp://h",
		"rtmps://a.rtmps.youtube.com/live2/SECRETKEY#x": "rtmps://a.rtmps.youtube.com/live2/<key>",
		"https://customer-x.cloudflarestream.com/0123456789abcdef0123/webRTC/publish": "https://customer-x.cloudflarestream.com/<key>/webRTC/<key>",
		"whip://127.0.0.1:8080/whip": "whip://127.0.0.1:8080/<key>",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
