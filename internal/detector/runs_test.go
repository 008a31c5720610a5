package detector_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// runAsync runs one invocation from another goroutine; the result arrives on the channel.
func (e *env) runAsync(t *testing.T, owner string, timeout time.Duration) <-chan detector.Summary {
	d := e.detector(t)
	out := make(chan detector.Summary, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sum, err := d.Run(ctx, detector.Invocation{Owner: owner, By: "local:detector"})
		if err != nil {
			t.Errorf("Run %s: %v", owner, err)
		}
		out <- sum
	}()
	return out
}

// TestMinuteBoundary: consecutive invocations carry the evidence, so a stall whose deadline
// falls after the boundary is detected on time by the next invocation, and an invocation that
// sees nothing new publishes nothing.
func TestMinuteBoundary(t *testing.T) {
	for _, stallOffset := range []time.Duration{59*time.Second + 100*time.Millisecond, 60*time.Second + 700*time.Millisecond, 61*time.Second + 900*time.Millisecond} {
		t.Run("stall at "+stallOffset.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, detector.Config{})
				o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
				e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
				lastChange := o.Stall("", time.Now().Add(stallOffset))
				first := e.run(t, "run-1", 70*time.Second) // stops at 62 s
				second := e.run(t, "run-2", 70*time.Second)
				if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale), e.events(t, "d1.example.com")); diff != "" {
					t.Fatalf("events (-want +got):\n%s", diff)
				}
				stale := e.messages(t, "d1.example.com")[1]
				delay := stale.At.Sub(lastChange)
				t.Logf("run 1 stopped at %s; stale event %s after the last change, published by run %d",
					first.StoppedAt.Format("15:04:05.000"), delay, map[bool]int{true: 1, false: 2}[first.Published == 2])
				if delay > bound {
					t.Errorf("stale event %s after the last change, later than %s: evidence lost at the boundary", delay, bound)
				}
				if first.Published+second.Published != 2 {
					t.Errorf("published %d + %d events, want 2 in all", first.Published, second.Published)
				}
			})
		})
	}
	t.Run("nothing new, nothing published", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			for _, run := range []string{"run-1", "run-2", "run-3"} {
				e.run(t, run, 70*time.Second)
			}
			if diff := cmp.Diff(kinds(state.HealthFresh), e.events(t, "d1.example.com")); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	})
}

// TestOverlappingRuns: EventBridge starts the next invocation while the previous one still
// polls. The next one waits for the previous one's lease to be released with its evidence, so
// each transition is published once, and on time.
func TestOverlappingRuns(t *testing.T) {
	for _, stallOffset := range []time.Duration{30 * time.Second, 59*time.Second + 500*time.Millisecond, 61 * time.Second} {
		t.Run("stall at "+stallOffset.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, detector.Config{})
				o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
				e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
				lastChange := o.Stall("", time.Now().Add(stallOffset))
				a := e.runAsync(t, "run-A", 70*time.Second)
				time.Sleep(58 * time.Second) // the next minute's invocation, 2 s early
				b := e.runAsync(t, "run-B", 70*time.Second)
				sumA, sumB := <-a, <-b
				if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale), e.events(t, "d1.example.com")); diff != "" {
					t.Fatalf("events (-want +got):\n%s", diff)
				}
				if sumA.Watched != 1 || sumB.Watched != 1 || sumA.Published+sumB.Published != 2 {
					t.Errorf("summaries %+v and %+v: want both to watch and 2 events in all", sumA, sumB)
				}
				delay := e.messages(t, "d1.example.com")[1].At.Sub(lastChange)
				t.Logf("stale event %s after the last change (A published %d, B %d)", delay, sumA.Published, sumB.Published)
				if delay > bound {
					t.Errorf("stale event %s after the last change, later than %s", delay, bound)
				}
			})
		})
	}
	t.Run("a lease held past this run's end skips the instance", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			lease := `{"v":1,"owner":"other-run","lease_until":"` + time.Now().Add(10*time.Minute).UTC().Format(time.RFC3339Nano) + `"}`
			if _, err := e.memory.SaveDetector(t.Context(), "news", "d1.example.com", []byte(lease), 0); err != nil {
				t.Fatal(err)
			}
			sum := e.run(t, "run-1", 70*time.Second)
			if n, _ := o.Requests("/master.m3u8"); sum.Watched != 0 || n != 0 || sum.Errors != 0 {
				t.Errorf("summary %+v, %d origin requests: want the instance skipped quietly", sum, n)
			}
		})
	})
	t.Run("a dead run's lease holds up the next one until it expires", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			until := time.Now().Add(5 * time.Second)
			lease := `{"v":1,"owner":"dead-run","stop_at":"` + time.Now().Add(2*time.Second).UTC().Format(time.RFC3339Nano) +
				`","lease_until":"` + until.UTC().Format(time.RFC3339Nano) + `"}`
			if _, err := e.memory.SaveDetector(t.Context(), "news", "d1.example.com", []byte(lease), 0); err != nil {
				t.Fatal(err)
			}
			e.run(t, "run-1", 70*time.Second)
			msgs := e.messages(t, "d1.example.com")
			if len(msgs) != 1 || msgs[0].At.Before(until) {
				t.Errorf("events %v, first at %s; want fresh once the dead run's lease ran out at %s", e.events(t, "d1.example.com"), msgs[0].At, until)
			}
		})
	})
	t.Run("a run whose instance was taken over stops and publishes nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			o.Stall("", time.Now().Add(30*time.Second))
			go func() {
				// Another run takes the memory over (as one would after this run's lease had
				// run out), with a conditional write of its own.
				time.Sleep(20 * time.Second)
				data, rev, err := e.memory.LoadDetector(context.Background(), "news", "d1.example.com")
				if err != nil {
					t.Error(err)
					return
				}
				taken := strings.Replace(string(data), `"owner":"run-1"`, `"owner":"thief"`, 1)
				if _, err := e.memory.SaveDetector(context.Background(), "news", "d1.example.com", []byte(taken), rev); err != nil {
					t.Error(err)
				}
			}()
			e.run(t, "run-1", 70*time.Second)
			if diff := cmp.Diff(kinds(state.HealthFresh), e.events(t, "d1.example.com")); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if doc := e.memoryDoc(t, "news", "d1.example.com"); !strings.Contains(doc, `"owner":"thief"`) {
				t.Errorf("the run overwrote the memory of the run that took over: %s", doc)
			}
		})
	})
}

// TestUnreadableMemory: a memory document that cannot be used is logged and replaced; the
// instance is watched from scratch.
func TestUnreadableMemory(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":        `{"v":1,`,
		"another version": `{"v":99}`,
		"unknown field":   `{"v":1,"surprise":true}`,
		"bad tracker":     `{"v":1,"playlists":[{"url":"http://origin-eu.test/v720.m3u8","class":"video","tracker":{"v":1,"health":"dreadful","last_observed":"2000-01-01T00:00:00Z"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, detector.Config{})
				o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
				e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
				if _, err := e.memory.SaveDetector(t.Context(), "news", "d1.example.com", []byte(doc), 0); err != nil {
					t.Fatal(err)
				}
				sum := e.run(t, "run-1", 70*time.Second)
				if diff := cmp.Diff(kinds(state.HealthFresh), e.events(t, "d1.example.com")); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if sum.Errors != 1 {
					t.Errorf("errors %d, want the unreadable memory counted once", sum.Errors)
				}
				saved := e.memoryDoc(t, "news", "d1.example.com")
				var back map[string]any
				if err := json.Unmarshal([]byte(saved), &back); err != nil || back["v"] != float64(1) || back["published"] == nil {
					t.Errorf("memory after the run %s, want a version 1 document with the published event", saved)
				}
			})
		})
	}
}

// TestKeepAliveAndCacheBusting: polls reuse connections and bypass caches.
func TestKeepAliveAndCacheBusting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		sum := e.run(t, "run-1", 70*time.Second)
		total := 0
		for _, p := range []string{"/master.m3u8", "/v720.m3u8", "/v360.m3u8", "/aen.m3u8"} {
			n, _ := o.Requests(p)
			total += n
		}
		_, busted := o.Requests("")
		if total != sum.Polls || busted != total {
			t.Errorf("%d requests, %d polls counted, %d cache-busted; want all equal", total, sum.Polls, busted)
		}
		if dials := e.net.Dials(); dials > 4 {
			t.Errorf("%d connections for %d polls: want at most one per concurrent request (4)", dials, total)
		}
		t.Logf("memory of an instance with 3 playlists: %d bytes", len(e.memoryDoc(t, "news", "d1.example.com")))
		// Every TD/2 = 1 s for 62 s.
		if n, _ := o.Requests("/v720.m3u8"); n < 62 || n > 64 {
			t.Errorf("v720 polled %d times in 62 s, want 62 (every TD/2)", n)
		}
	})
}

// TestHandler runs the Lambda handler on the sample events.
func TestHandler(t *testing.T) {
	load := func(t *testing.T, name string) events.EventBridgeEvent {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", name))
		if err != nil {
			t.Fatal(err)
		}
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return ev
	}
	t.Run("scheduled event runs the detector", func(t *testing.T) {
		ev := load(t, "detector-scheduled.json")
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			h := &detector.Handler{Detector: e.detector(t), Log: e.log}
			const arn = "arn:aws:lambda:eu-west-1:123456789012:function:cvs-DetectorFunction-1A2B3C"
			ctx, cancel := context.WithTimeout(lambdacontext.NewContext(context.Background(),
				&lambdacontext.LambdaContext{AwsRequestID: "8f5a6e0c-1c9d-4b0e-9d55-2f1f0c0f0a01", InvokedFunctionArn: arn}), 70*time.Second)
			defer cancel()
			start := time.Now()
			sum, err := h.Handle(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if ran := time.Since(start); ran != detector.DefaultRunFor {
				t.Errorf("ran %s, want RunFor (%s) within a 70 s timeout", ran, detector.DefaultRunFor)
			}
			want := map[string]state.Health{"news/d1.example.com": state.HealthFresh}
			if diff := cmp.Diff(want, sum.Health); diff != "" || sum.Published != 1 {
				t.Errorf("summary %+v (health -want +got:\n%s), want one event", sum, diff)
			}
			in, err := e.store.Instance(t.Context(), "news", "d1.example.com")
			if err != nil || in.ChangedBy != arn {
				t.Errorf("instance %+v, %v: want the health recorded by the function", in, err)
			}
		})
	})
	t.Run("another event is refused and changes nothing", func(t *testing.T) {
		ev := load(t, "detector-not-scheduled.json")
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			h := &detector.Handler{Detector: e.detector(t), Log: e.log}
			_, err := h.Handle(context.Background(), ev)
			var bad *detector.InvalidEventError
			if !errors.As(err, &bad) || bad.Source != "aws.s3" {
				t.Fatalf("Handle: %v, want *InvalidEventError naming aws.s3", err)
			}
			if n, _ := o.Requests("/master.m3u8"); n != 0 || len(e.topic.Messages()) != 0 || e.memoryDoc(t, "news", "d1.example.com") != "" {
				t.Errorf("a refused event polled (%d), published or saved memory", n)
			}
		})
	})
}

// TestManyInstances: instances are watched concurrently, within the concurrency bound.
func TestManyInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{MaxConcurrency: 8})
		origins := map[string]*detectortest.Origin{}
		for i := range 40 {
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			o.SetLatency(50 * time.Millisecond)
			domain := "d" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example.com"
			e.addInstance("news", domain, testRegion, domain+".origin.test", o)
			origins[domain] = o
		}
		var mu sync.Mutex
		inFlight, peak := 0, 0
		for _, o := range origins {
			o.OnRequest(func(delta int) {
				mu.Lock()
				defer mu.Unlock()
				inFlight += delta
				peak = max(peak, inFlight)
			})
		}
		sum := e.run(t, "run-1", 70*time.Second)
		if sum.Watched != 40 || sum.Published != 40 {
			t.Errorf("summary: %d watched, %d published; want 40 and 40", sum.Watched, sum.Published)
		}
		mu.Lock()
		defer mu.Unlock()
		if peak > 8 {
			t.Errorf("%d requests in flight at once, over the bound of 8", peak)
		}
		t.Logf("40 instances, 160 playlists: %d polls, at most %d requests in flight", sum.Polls, peak)
	})
}

// TestDeadlineInsideTheMargin: an invocation with less time than the margin polls nothing.
func TestDeadlineInsideTheMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		ctx, cancel := context.WithTimeout(context.Background(), detector.DefaultMargin)
		defer cancel()
		_, err := e.detector(t).Run(ctx, detector.Invocation{Owner: "run-1", By: "local:detector"})
		if err == nil || !strings.Contains(err.Error(), "margin") {
			t.Errorf("Run: %v, want an error about the margin", err)
		}
		if n, _ := o.Requests("/master.m3u8"); n != 0 || e.memoryDoc(t, "news", "d1.example.com") != "" {
			t.Errorf("%d requests or memory saved, want nothing done", n)
		}
	})
}
