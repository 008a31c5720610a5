// Package edge runs the copilot CloudFront Function (functions/copilot/copilot.js) on this
// machine: the very same file, executed by goja with a KeyValueStore the caller provides, and a
// local edge (an http.Handler reverse proxy) that runs it before every request reaches an
// origin, as CloudFront does on viewer-request.
package edge

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// CopilotPath is where the copilot's source lives, relative to the repository root.
const CopilotPath = "functions/copilot/copilot.js"

// FunctionError is a failure of the function itself (it threw, returned something CloudFront
// would reject, or ran too long). CloudFront answers such requests with 503.
type FunctionError struct {
	Err error
}

func (e *FunctionError) Error() string { return "copilot function failed: " + e.Err.Error() }
func (e *FunctionError) Unwrap() error { return e.Err }

// importLine is the one ES module statement a CloudFront Function has. goja runs scripts, not
// modules, so the loader replaces this line (and only this line) with a binding to the
// emulated module. CloudFront Functions have no export: the runtime calls the global
// function named handler, which a script defines just the same.
var importLine = regexp.MustCompile(`(?m)^import[ \t]+([A-Za-z_$][A-Za-z0-9_$]*)[ \t]+from[ \t]+['"]cloudfront['"][ \t]*;?[ \t]*$`)

// moduleGlobal is the global through which the rewritten import line reaches the emulated
// 'cloudfront' module.
const moduleGlobal = "__cvs_cloudfront_module"

// TransformSource rewrites a CloudFront Function's source for goja: the line
// `import cf from 'cloudfront';` becomes `var cf = <the emulated module>;` on the same line, so
// line numbers in errors still match the file. Sources that import nothing are returned as
// they are; any other import is an error.
func TransformSource(src string) (string, error) {
	locs := importLine.FindAllStringSubmatchIndex(src, -1)
	if len(locs) > 1 {
		return "", fmt.Errorf("the module imports 'cloudfront' %d times, want once", len(locs))
	}
	out := src
	if len(locs) == 1 {
		l := locs[0]
		out = src[:l[0]] + "var " + src[l[2]:l[3]] + " = " + moduleGlobal + ";" + src[l[1]:]
	}
	for i, line := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "import ") || strings.HasPrefix(t, "export ") {
			return "", fmt.Errorf("line %d: only `import cf from 'cloudfront'` is supported, got %q", i+1, t)
		}
	}
	return out, nil
}

// Options tune a Copilot.
type Options struct {
	// Timeout stops a function call that runs longer (0: one second). CloudFront limits a
	// function's compute far below that; this only keeps a runaway script from hanging.
	Timeout time.Duration
	// PoolSize is how many idle goja runtimes to keep (0: 2 x GOMAXPROCS).
	PoolSize int
	// Log receives the function's console.log output at debug level (nil: slog.Default()).
	Log *slog.Logger
}

// Copilot runs a CloudFront viewer-request function with goja. goja runtimes are not safe for
// concurrent use, so each call borrows one from a pool; a Copilot is safe for concurrent use.
type Copilot struct {
	program *goja.Program
	kvs     KeyValueStore
	timeout time.Duration
	log     *slog.Logger
	idle    chan *jsRuntime
}

// LoadCopilot reads the function's source file and prepares it; see NewCopilot.
func LoadCopilot(path string, kvs KeyValueStore, o Options) (*Copilot, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load copilot: %w", err)
	}
	return NewCopilot(filepath.Base(path), string(src), kvs, o)
}

// NewCopilot compiles a function's source (in strict mode, as CloudFront runs modules) and
// checks that it defines a handler. The function's `cloudfront` module reads kvs; with kvs nil
// it behaves as for a function with no store associated.
func NewCopilot(name, src string, kvs KeyValueStore, o Options) (*Copilot, error) {
	script, err := TransformSource(src)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	prog, err := goja.Compile(name, script, true)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 2 * runtime.GOMAXPROCS(0)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c := &Copilot{program: prog, kvs: kvs, timeout: o.Timeout, log: o.Log, idle: make(chan *jsRuntime, o.PoolSize)}
	rt, err := c.newRuntime()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	c.idle <- rt
	return c, nil
}

// Handle runs the function for one viewer-request event. An error is always a *FunctionError
// (or the context's error); KeyValueStore failures are the function's to handle.
func (c *Copilot) Handle(ctx context.Context, ev Event) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	rt, err := c.borrow()
	if err != nil {
		return Result{}, &FunctionError{Err: err}
	}
	res, reusable, err := rt.call(ctx, ev, c.timeout)
	if reusable {
		c.giveBack(rt)
	}
	return res, err
}

func (c *Copilot) borrow() (*jsRuntime, error) {
	select {
	case rt := <-c.idle:
		return rt, nil
	default:
		return c.newRuntime()
	}
}

func (c *Copilot) giveBack(rt *jsRuntime) {
	select {
	case c.idle <- rt:
	default: // the pool is full: let this one go
	}
}

// jsRuntime is one goja runtime with the function loaded. Only one goroutine uses it at a time.
type jsRuntime struct {
	vm      *goja.Runtime
	handler goja.Callable
	parse   goja.Callable // JSON.parse
	kvs     KeyValueStore
	ctx     context.Context // the current call's
}

func (c *Copilot) newRuntime() (*jsRuntime, error) {
	vm := goja.New()
	rt := &jsRuntime{vm: vm, kvs: c.kvs, ctx: context.Background()}
	parse, ok := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	if !ok {
		return nil, errors.New("JSON.parse is missing")
	}
	rt.parse = parse

	handle := vm.NewObject()
	must(handle.Set("get", rt.kvsGet))
	must(handle.Set("exists", rt.kvsExists))
	module := vm.NewObject()
	// cf.kvs() and cf.kvs(id): a function has at most one store, so the id changes nothing.
	// Without a store (kvs nil) it throws, as CloudFront's does for a function with none.
	must(module.Set("kvs", func(goja.FunctionCall) goja.Value {
		if c.kvs == nil {
			panic(vm.NewGoError(errors.New("no key value store is associated with this function")))
		}
		return handle
	}))
	must(vm.Set(moduleGlobal, module))

	log := c.log
	console := vm.NewObject()
	must(console.Set("log", func(call goja.FunctionCall) goja.Value {
		parts := make([]string, len(call.Arguments))
		for i, a := range call.Arguments {
			parts[i] = a.String()
		}
		log.Debug("copilot console.log", "message", strings.Join(parts, " "))
		return goja.Undefined()
	}))
	must(vm.Set("console", console))

	if _, err := vm.RunProgram(c.program); err != nil {
		return nil, fmt.Errorf("run the module: %w", err)
	}
	h, ok := goja.AssertFunction(vm.Get("handler"))
	if !ok {
		return nil, errors.New("the module defines no function named handler")
	}
	rt.handler = h
	return rt, nil
}

// must panics with err. Setting a property of a fresh ordinary object never fails, and the
// only errors a promise's resolve or reject returns are goja's uncatchable ones (an
// interrupt), which goja turns back into an error when they panic out of a native function.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// call runs the handler. reusable is false when the runtime may be left interrupted.
func (rt *jsRuntime) call(ctx context.Context, ev Event, timeout time.Duration) (res Result, reusable bool, err error) {
	rt.ctx = ctx
	defer func() { rt.ctx = context.Background() }()
	timer := time.AfterFunc(timeout, func() { rt.vm.Interrupt(fmt.Sprintf("the function ran longer than %v", timeout)) })
	v, callErr := rt.handler(goja.Undefined(), rt.eventValue(ev))
	if !timer.Stop() {
		// The interrupt may land after this call; never reuse a runtime it could poison.
		return Result{}, false, &FunctionError{Err: fmt.Errorf("the function ran longer than %v", timeout)}
	}
	if callErr != nil {
		return Result{}, true, &FunctionError{Err: callErr}
	}
	if p, ok := v.Export().(*goja.Promise); ok {
		switch p.State() {
		case goja.PromiseStateFulfilled:
			v = p.Result()
		case goja.PromiseStateRejected:
			return Result{}, true, &FunctionError{Err: fmt.Errorf("the handler's promise was rejected: %s", p.Result().String())}
		default:
			return Result{}, true, &FunctionError{Err: errors.New("the handler's promise never settled")}
		}
	}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return Result{}, true, &FunctionError{Err: errors.New("the handler returned nothing")}
	}
	res, err = resultFromExport(v.Export())
	if err != nil {
		return Result{}, true, &FunctionError{Err: err}
	}
	return res, true, nil
}

// kvsGet emulates kvsHandle.get(key, {format}): a promise of the value, rejected when the key
// is missing or the store fails, as in CloudFront.
func (rt *jsRuntime) kvsGet(call goja.FunctionCall) goja.Value {
	p, resolve, reject := rt.vm.NewPromise()
	settle := func(v any, err error) goja.Value {
		if err != nil {
			must(reject(rt.vm.NewGoError(err)))
		} else {
			must(resolve(v))
		}
		return rt.vm.ToValue(p)
	}
	key, ok := call.Argument(0).Export().(string)
	if !ok || key == "" {
		return settle(nil, fmt.Errorf("kvs.get: the key must be a non-empty string, got %s", call.Argument(0).String()))
	}
	format := "string"
	if opts, ok := call.Argument(1).(*goja.Object); ok {
		if f := opts.Get("format"); f != nil && !goja.IsUndefined(f) {
			format = f.String()
		}
	}
	value, err := rt.kvs.Get(rt.ctx, key)
	if err != nil {
		return settle(nil, fmt.Errorf("kvs.get %q: %w", key, err))
	}
	switch format {
	case "string":
		return settle(value, nil)
	case "json":
		parsed, err := rt.parse(goja.Undefined(), rt.vm.ToValue(value))
		if err != nil {
			return settle(nil, fmt.Errorf("kvs.get %q: the value is not JSON: %w", key, err))
		}
		return settle(parsed, nil)
	case "bytes":
		return settle(rt.vm.NewArrayBuffer([]byte(value)), nil)
	default:
		return settle(nil, fmt.Errorf("kvs.get %q: unknown format %q (want string, json or bytes)", key, format))
	}
}

// kvsExists emulates kvsHandle.exists(key): a promise of whether the key is present.
func (rt *jsRuntime) kvsExists(call goja.FunctionCall) goja.Value {
	p, resolve, reject := rt.vm.NewPromise()
	key := call.Argument(0).String()
	_, err := rt.kvs.Get(rt.ctx, key)
	switch {
	case err == nil:
		must(resolve(true))
	case errors.Is(err, ErrKeyNotFound):
		must(resolve(false))
	default:
		must(reject(rt.vm.NewGoError(fmt.Errorf("kvs.exists %q: %w", key, err))))
	}
	return rt.vm.ToValue(p)
}

// eventValue builds the JavaScript event object.
func (rt *jsRuntime) eventValue(ev Event) goja.Value {
	vm := rt.vm
	obj := func(kv ...any) *goja.Object {
		o := vm.NewObject()
		for i := 0; i+1 < len(kv); i += 2 {
			must(o.Set(kv[i].(string), kv[i+1]))
		}
		return o
	}
	fields := func(fs Fields) *goja.Object {
		o := vm.NewObject()
		for name, f := range fs {
			fo := obj("value", f.Value)
			if len(f.MultiValue) > 0 {
				mv := make([]any, len(f.MultiValue))
				for i, m := range f.MultiValue {
					mv[i] = obj("value", m.Value)
				}
				must(fo.Set("multiValue", vm.NewArray(mv...)))
			}
			must(o.Set(name, fo))
		}
		return o
	}
	ctx := obj("eventType", cmp.Or(ev.Context.EventType, "viewer-request"))
	if ev.Context.DistributionDomainName != "" {
		must(ctx.Set("distributionDomainName", ev.Context.DistributionDomainName))
	}
	if ev.Context.DistributionID != "" {
		must(ctx.Set("distributionId", ev.Context.DistributionID))
	}
	if ev.Context.RequestID != "" {
		must(ctx.Set("requestId", ev.Context.RequestID))
	}
	return obj(
		"version", "1.0",
		"context", ctx,
		"viewer", obj("ip", ev.Viewer.IP),
		"request", obj(
			"method", ev.Request.Method,
			"uri", ev.Request.URI,
			"querystring", fields(ev.Request.Querystring),
			"headers", fields(ev.Request.Headers),
			"cookies", fields(ev.Request.Cookies),
		),
	)
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
