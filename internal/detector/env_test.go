package detector_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// env is one simulated region for tests run inside a testing/synctest bubble: origins served
// over an in-memory network by host name, the memory state store with its detector memory, and
// an in-process topic. Time is the bubble's fake clock.
type env struct {
	t       *testing.T
	store   *memory.Store
	memory  *memory.DetectorMemory
	topic   *detectortest.Topic
	net     *detectortest.PipeNet
	origins map[string]*detectortest.Origin
	mu      sync.Mutex // guards origins, read by the network's handler
	cfg     detector.Config
	log     *slog.Logger
}

const testRegion = "eu-west-1"

// newEnv starts an environment; cfg's Region and TopicARN are filled in. Call it inside the
// bubble; it closes the network when the test ends.
func newEnv(t *testing.T, cfg detector.Config) *env {
	t.Helper()
	cfg.Region = testRegion
	cfg.TopicARN = "arn:aws:sns:eu-west-1:123456789012:cvs-detector"
	e := &env{t: t, store: memory.New(nil), topic: &detectortest.Topic{}, origins: map[string]*detectortest.Origin{}, cfg: cfg}
	e.memory = memory.NewDetectorMemory(e.store)
	e.net = detectortest.NewPipeNet(http.HandlerFunc(e.serve))
	t.Cleanup(e.net.Close)
	e.log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return e
}

func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	o := e.origins[r.Host]
	e.mu.Unlock()
	if o == nil {
		http.Error(w, "no such origin", http.StatusBadGateway)
		return
	}
	o.ServeHTTP(w, r)
}

// addInstance registers an instance of cluster on domain whose origin is o at host, and
// returns its origin playlist URL (the master).
func (e *env) addInstance(cluster, domain, region, host string, o *detectortest.Origin) string {
	e.t.Helper()
	e.mu.Lock()
	e.origins[host] = o
	e.mu.Unlock()
	u := "http://" + host + "/master.m3u8"
	_, err := e.store.Register(context.Background(), state.Registration{Cluster: cluster, Domain: domain, Region: region,
		DistributionPlaylistURL: "https://" + domain + "/master.m3u8", OriginPlaylistURL: u}, state.Change{By: "local:test"})
	if err != nil {
		e.t.Fatalf("register %s/%s: %v", cluster, domain, err)
	}
	return u
}

func (e *env) detector(t *testing.T) *detector.Detector {
	t.Helper()
	d, err := detector.New(e.cfg, detector.Deps{Registry: e.store, Memory: e.memory, Publisher: e.topic,
		Getter: detector.NewGetter(e.net.Client(), e.cfg), Log: e.log})
	if err != nil {
		t.Fatalf("detector.New: %v", err)
	}
	return d
}

// run runs one invocation of the given length, as Lambda would with that timeout.
func (e *env) run(t *testing.T, owner string, timeout time.Duration) detector.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sum, err := e.detector(t).Run(ctx, detector.Invocation{Owner: owner, By: "arn:aws:lambda:eu-west-1:123456789012:function:detector"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum
}

// events returns the kinds of the events published for domain, in order, failing the test on
// any malformed message or attribute.
func (e *env) events(t *testing.T, domain string) []string {
	t.Helper()
	var kinds []string
	for _, m := range e.messages(t, domain) {
		kinds = append(kinds, string(m.Event.Event))
	}
	return kinds
}

func (e *env) messages(t *testing.T, domain string) []detectortest.Message {
	t.Helper()
	var out []detectortest.Message
	var lastSeq int64
	for _, m := range e.topic.Messages() {
		if m.Err != nil {
			t.Fatalf("malformed message published: %v", m.Err)
		}
		if m.Event.Domain != domain {
			continue
		}
		want := map[string]string{"event": string(m.Event.Event), "cluster": m.Event.Cluster, "region": m.Event.Region}
		for k, v := range want {
			if m.Attributes[k] != v {
				t.Fatalf("message attribute %s = %q, want %q", k, m.Attributes[k], v)
			}
		}
		if m.Event.Sequence <= lastSeq {
			t.Fatalf("sequence %d after %d: not increasing", m.Event.Sequence, lastSeq)
		}
		lastSeq = m.Event.Sequence
		out = append(out, m)
	}
	return out
}

// health returns the instance's health in the table.
func (e *env) health(t *testing.T, cluster, domain string) state.Health {
	t.Helper()
	in, err := e.store.Instance(context.Background(), cluster, domain)
	if err != nil {
		t.Fatal(err)
	}
	return in.Health
}

// memoryDoc returns the instance's saved memory as text.
func (e *env) memoryDoc(t *testing.T, cluster, domain string) string {
	t.Helper()
	data, _, err := e.memory.LoadDetector(context.Background(), cluster, domain)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func kinds(k ...state.Health) []string {
	out := make([]string, 0, len(k))
	for _, x := range k {
		out = append(out, string(x))
	}
	return out
}

func join(s []string) string { return fmt.Sprintf("[%s]", strings.Join(s, " ")) }
