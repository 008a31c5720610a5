package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// scenarioRegion is one region in GET {control_url}/regions.
type scenarioRegion struct {
	Name         string `json:"name"`
	Domain       string `json:"domain"`
	EncoderState string `json:"encoder_state"`
	LastSequence int64  `json:"last_media_sequence"`
	Served       bool   `json:"served"`
	Instance     *struct {
		Open   bool   `json:"open"`
		Health string `json:"health"`
	} `json:"instance"`
}

// scenario is one case of TestScenarios: it runs on its own `cvsctl local`, whose regions have
// both been seen fresh.
type scenario struct {
	name string
	args []string
	run  func(t *testing.T, s *scene)
}

// scene is what a scenario drives: the process and its first two regions.
type scene struct {
	*localRun
	one, two string // region names
}

// TestScenarios drives failure modes through the whole chain of `cvsctl local` (origin,
// detector, SNS, trigger, Step Functions, store, edge sync, edge) and checks the outcome from
// the contract alone: the log lines, GET {control_url}/regions and the API. Each case runs its
// own process, side by side.
func TestScenarios(t *testing.T) {
	testenv.Short(t, "runs eight cvsctl local processes for up to a minute")
	bin := buildCvsctl(t)
	const holdDown = 15
	cases := []scenario{
		{name: "segments late but within the threshold: no failover", args: []string{"--segment-duration", "2s"}, run: func(t *testing.T, s *scene) {
			s.postJSON("/regions/"+s.one+"/encoder", `{"state":"late"}`, http.StatusOK)
			s.waitProgress(s.one, 8)
			s.noFailover()
		}},
		{name: "a single 5xx: no failover", args: []string{"--segment-duration", "1s"}, run: func(t *testing.T, s *scene) {
			s.postJSON("/regions/"+s.one+"/encoder", `{"state":"error-once"}`, http.StatusOK)
			s.waitRegion("the one 5xx served", func(r []scenarioRegion) bool { return r[0].EncoderState == "running" })
			s.waitProgress(s.one, 6)
			s.noFailover()
		}},
		{name: "an ended stream: no failover", args: []string{"--segment-duration", "1s"}, run: func(t *testing.T, s *scene) {
			s.setEncoder(s.one, "ended")
			s.waitLog(15*time.Second, "ended event of "+s.one, func(l logLine) bool {
				return l.Region == s.one && l.Msg == "event published" && l.str("event") == "ended"
			})
			s.waitLog(10*time.Second, "the trigger ignoring it", func(l logLine) bool {
				return l.Region == s.one && l.Msg == "ignored a detector event" && l.str("event") == "ended"
			})
			s.noFailover()
		}},
		{name: "a media-sequence restart: no failover", args: []string{"--segment-duration", "1s"}, run: func(t *testing.T, s *scene) {
			s.setEncoder(s.one, "restart")
			s.waitRegion("the restarted sequence served", func(r []scenarioRegion) bool {
				return r[0].EncoderState == "restart" && r[0].Served && r[0].LastSequence < 3
			})
			s.waitProgress(s.one, 6)
			s.noFailover()
		}},
		{name: "a flapping origin: at most one close per hold-down", args: []string{"--segment-duration", "2s", "--failback", "--hold-down-seconds", fmt.Sprint(holdDown)},
			run: func(t *testing.T, s *scene) {
				// Faster than detection: stalls of a quarter of a segment.
				for range 12 {
					s.setEncoder(s.one, "stalled")
					time.Sleep(500 * time.Millisecond)
					s.setEncoder(s.one, "running")
					time.Sleep(time.Second)
				}
				// Then stall, recover, stall again: closed, reopened after the hold-down, and the
				// second stall within the hold-down of the reopen closes nothing.
				stalled := s.setEncoder(s.one, "stalled")
				s.waitOutcome(s.one, "closed", 20*time.Second)
				s.setEncoder(s.one, "running")
				s.waitOutcome(s.one, "reopened", holdDown*time.Second+30*time.Second)
				s.setEncoder(s.one, "stalled")
				s.waitOutcome(s.one, "skipped", 20*time.Second)
				closes := s.lines(func(l logLine) bool { return l.Msg == "execution finished" && l.str("outcome") == "closed" })
				if len(closes) != 1 || closes[0].Region != s.one || closes[0].Time.Before(stalled) {
					t.Fatalf("%d closes %v, want one, in %s, after the sustained stall", len(closes), closes, s.one)
				}
				if r := s.regions(); r[0].Instance == nil || !r[0].Instance.Open {
					t.Fatalf("%s after the skipped close: %+v, want open", s.one, r[0].Instance)
				}
			}},
		{name: "a duplicate SNS delivery: one execution", args: []string{"--segment-duration", "1s"}, run: func(t *testing.T, s *scene) {
			s.setEncoder(s.one, "stalled")
			s.waitLog(15*time.Second, "stale event of "+s.one, func(l logLine) bool {
				return l.Region == s.one && l.Msg == "event published" && l.str("event") == "stale"
			})
			first := s.redeliver(s.one) // most likely while the execution runs
			s.waitOutcome(s.one, "closed", 20*time.Second)
			second := s.redeliver(s.one) // after it ended
			if first.Event != "stale" || second.Event != "stale" || first.MessageID != second.MessageID {
				t.Fatalf("redelivered %+v and %+v: want the same stale event twice", first, second)
			}
			if second.Outcome != "already_started" {
				t.Fatalf("the trigger's outcome of a duplicate after the execution: %q, want already_started", second.Outcome)
			}
			s.waitLog(5*time.Second, "the trigger seeing the duplicate", func(l logLine) bool {
				return l.Region == s.one && l.Msg == "execution already started"
			})
			finished := s.lines(func(l logLine) bool { return l.Msg == "execution finished" })
			arns := map[string]bool{}
			for _, l := range s.lines(func(l logLine) bool { return l.Msg == "execution started" }) {
				arns[l.str("execution_arn")] = true
			}
			if len(finished) != 1 || len(arns) != 1 {
				t.Fatalf("%d executions finished, %d started (%v): want one", len(finished), len(arns), arns)
			}
		}},
		{name: "both stall: at least one stays open", args: []string{"--segment-duration", "1s"}, run: func(t *testing.T, s *scene) {
			s.setEncoder(s.one, "stalled")
			s.setEncoder(s.two, "stalled")
			for _, name := range []string{s.one, s.two} {
				s.waitLog(15*time.Second, "stale event of "+name, func(l logLine) bool {
					return l.Region == name && l.Msg == "event published" && l.str("event") == "stale"
				})
				s.waitLog(20*time.Second, "an execution finished in "+name, func(l logLine) bool {
					return l.Region == name && l.Msg == "execution finished"
				})
			}
			open := 0
			for _, r := range s.regions() {
				if r.Instance != nil && r.Instance.Open {
					open++
				}
			}
			if open == 0 {
				t.Fatalf("both regions closed: %+v", s.regions())
			}
			served := 0
			for _, reg := range s.c.Regions {
				if code, _, _ := get(t, reg.EdgeURL+"/v180.m3u8"); code == http.StatusOK {
					served++
				}
			}
			if served == 0 {
				t.Fatal("no edge answers 200")
			}
		}},
		{name: "control region down: a forced close still works and is audited", args: []string{"--segment-duration", "1s"}, run: func(t *testing.T, s *scene) {
			s.postJSON("/control-region", `{"state":"down"}`, http.StatusOK)
			s.waitLog(5*time.Second, "the switch", func(l logLine) bool { return l.Msg == "control region switched" && l.str("state") == "down" })
			domain := s.c.Regions[0].Domain
			closeURL := s.c.APIURL + "/clusters/live/instances/" + url.PathEscape(domain) + "/close"
			if code, body := postJSON(t, closeURL, `{"reason":"scenario: unforced"}`); code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
				t.Fatalf("unforced close with the control region down: %d %s, want 503 unavailable", code, body)
			}
			if r := s.regions(); r[0].Instance == nil || !r[0].Instance.Open {
				t.Fatalf("%s after a refused close: %+v, want open", s.one, r[0].Instance)
			}
			if code, body := postJSON(t, closeURL, `{"reason":"scenario: control region down","force":true}`); code != http.StatusOK {
				t.Fatalf("forced close with the control region down: %d %s", code, body)
			}
			waitStatus(t, s.c.Regions[0].EdgeURL+"/v180.m3u8", http.StatusNotFound, 10*time.Second)
			if r := s.regions(); r[0].Instance == nil || r[0].Instance.Open {
				t.Fatalf("%s after the forced close: %+v, want closed", s.one, r[0].Instance)
			}
			code, _, body := get(t, s.c.APIURL+"/clusters/live/history?domain="+url.QueryEscape(domain)+"&limit=5")
			var page struct {
				Records []struct {
					Field    string `json:"field"`
					After    string `json:"after"`
					By       string `json:"by"`
					Force    bool   `json:"force"`
					Fallback bool   `json:"fallback"`
				} `json:"records"`
			}
			if err := json.Unmarshal([]byte(body), &page); code != http.StatusOK || err != nil || len(page.Records) == 0 {
				t.Fatalf("history: %d %v %s", code, err, body)
			}
			if r := page.Records[0]; r.Field != "distro_open" || r.After != "false" || !r.Force || !r.Fallback || !strings.HasPrefix(r.By, "local:") {
				t.Fatalf("newest audit record %+v: want the operator's close with force and fallback", r)
			}
			s.postJSON("/control-region", `{"state":"up"}`, http.StatusOK)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := startLocal(t, bin, tc.args...)
			s := &scene{localRun: r, one: r.c.Regions[0].Name, two: r.c.Regions[1].Name}
			for _, name := range []string{s.one, s.two} {
				r.waitLog(20*time.Second, name+" fresh", func(l logLine) bool {
					return l.Region == name && l.Msg == "event published" && l.str("event") == "fresh"
				})
			}
			tc.run(t, s)
			r.stop()
		})
	}
}

// noFailover checks that nothing failed over: no stale or unreachable event, no execution, and
// every instance open.
func (s *scene) noFailover() {
	s.t.Helper()
	bad := s.lines(func(l logLine) bool {
		return l.Msg == "execution started" || l.Msg == "execution finished" ||
			(l.Msg == "event published" && (l.str("event") == "stale" || l.str("event") == "unreachable"))
	})
	if len(bad) > 0 {
		s.t.Fatalf("failover activity: %s %s %v", bad[0].Region, bad[0].Msg, bad[0].fields)
	}
	for _, r := range s.regions() {
		if r.Instance == nil || !r.Instance.Open {
			s.t.Fatalf("%s: %+v, want open", r.Name, r.Instance)
		}
	}
}

// lines returns the log lines that match.
func (s *scene) lines(match func(logLine) bool) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
	for _, l := range s.localRun.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitOutcome waits for an execution in region to finish with outcome.
func (s *scene) waitOutcome(region, outcome string, within time.Duration) logLine {
	s.t.Helper()
	return s.waitLog(within, outcome+" execution in "+region, func(l logLine) bool {
		return l.Region == region && l.Msg == "execution finished" && l.str("outcome") == outcome
	})
}

// regions reads GET {control_url}/regions.
func (s *scene) regions() []scenarioRegion {
	s.t.Helper()
	code, _, body := get(s.t, s.c.ControlURL+"/regions")
	var out []scenarioRegion
	if err := json.Unmarshal([]byte(body), &out); code != http.StatusOK || err != nil || len(out) < 2 {
		s.t.Fatalf("GET /regions: %d %v %s", code, err, body)
	}
	return out
}

// waitRegion polls GET /regions until ok.
func (s *scene) waitRegion(what string, ok func([]scenarioRegion) bool) []scenarioRegion {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.regions()
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("GET /regions never showed %s: %+v", what, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitProgress waits until the detector has read n more segments of region's playlists (the
// last media sequence served to it moved on by n).
func (s *scene) waitProgress(region string, n int64) {
	s.t.Helper()
	at := func(r []scenarioRegion) int64 {
		for _, x := range r {
			if x.Name == region {
				return x.LastSequence
			}
		}
		s.t.Fatalf("no region %s in GET /regions", region)
		return 0
	}
	from := at(s.regions())
	s.waitRegion(fmt.Sprintf("%s %d segments on from %d", region, n, from), func(r []scenarioRegion) bool { return at(r) >= from+n })
}

// redeliverAnswer is the answer of POST .../redeliver.
type redeliverAnswer struct {
	MessageID string `json:"message_id"`
	Event     string `json:"event"`
	Outcome   string `json:"outcome"`
}

func (s *scene) redeliver(region string) redeliverAnswer {
	s.t.Helper()
	body := s.postJSON("/regions/"+region+"/redeliver", "", http.StatusOK)
	var a redeliverAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		s.t.Fatalf("redeliver: %v %s", err, body)
	}
	return a
}

// postJSON posts body to the control API and wants code.
func (s *scene) postJSON(path, body string, code int) string {
	s.t.Helper()
	got, b := postJSON(s.t, s.c.ControlURL+path, body)
	if got != code {
		s.t.Fatalf("POST %s %s: %d %s, want %d", path, body, got, b, code)
	}
	return b
}

func postJSON(t *testing.T, u, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
