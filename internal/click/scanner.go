package click

import (
	"strings"
	"time"
)

// The rule that tells a mail scanner's fetch from a reader's click (the
// README's "What readers read" says it for editors):
//
//  1. a HEAD request is a scanner's: a browser following a link asks GET
//     (a browser's prefetch, Sec-Purpose: prefetch, is counted with them);
//  2. a request without a User-Agent, or whose User-Agent names a mail
//     security gateway, a link checker or a library rather than a browser
//     (scannerAgents), is a scanner's;
//  3. a burst is a scanner's: the same client (address and User-Agent,
//     and reader when tracked) fetching BurstLinks or more different links
//     of one email's run or alert, each within BurstWindow of the one
//     before. Gateways open every link of a message seconds after
//     delivery; a reader opens one or two stories, seconds apart at best.
//
// Readers' clicks are what editors see first; the scanners' count is shown
// beside them. Fetches of one burst spread over several instances behind
// a load balancer are each judged by rules 1 and 2 only.
const (
	BurstLinks  = 3
	BurstWindow = 5 * time.Second
)

// scannerAgents are lower-case fragments of the User-Agents of mail
// security gateways, link checkers and HTTP libraries.
var scannerAgents = []string{
	"bot", "crawler", "spider", "scan", "preview", "proofpoint", "mimecast", "barracuda",
	"fireeye", "forcepoint", "symantec", "trendmicro", "sophos", "cisco", "ironport",
	"microsoft office", "safelinks", "outlook-ios-linkpreview", "google-safety", "googleimageproxy",
	"curl/", "wget/", "python-", "python/", "go-http-client", "java/", "okhttp", "libwww", "httpclient",
	"axios/", "node-fetch", "phantomjs", "check_http", "linkchecker",
}

// ScannerAgent reports whether a User-Agent is a scanner's, not a
// reader's browser (rule 2).
func ScannerAgent(ua string) bool {
	if strings.TrimSpace(ua) == "" {
		return true
	}
	l := strings.ToLower(ua)
	for _, s := range scannerAgents {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// markBursts marks as scanners' the fetches of one client and scope (in
// time order) that belong to a burst (rule 3).
func markBursts(evs []*event) {
	start := 0
	for i := 1; i <= len(evs); i++ {
		if i < len(evs) && evs[i].at.Sub(evs[i-1].at) <= BurstWindow {
			continue
		}
		// evs[start:i] is one run of fetches each within the window of
		// the one before.
		arts := map[int64]bool{}
		for _, e := range evs[start:i] {
			arts[e.link.Article] = true
		}
		if len(arts) >= BurstLinks {
			for _, e := range evs[start:i] {
				e.scanner = true
			}
		}
		start = i
	}
}
