package hls

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MergeSource is one master playlist to merge: a region's (or an encoder's S3 prefix's) master.
type MergeSource struct {
	// Name names the source in errors and warnings, namespaces its rendition groups and is its
	// content-steering pathway: letters, digits, '.', '-' and '_' (the characters RFC 8216bis
	// allows in a Pathway ID), for example eu-west-1 or primary.
	Name string
	// URL is where the master was read from: relative URIs are resolved against it.
	URL string
	// Body is the master playlist.
	Body []byte
}

// MergeOptions change what Merge writes.
type MergeOptions struct {
	// SteeringURI, when set, adds EXT-X-CONTENT-STEERING with this SERVER-URI and the first
	// source as the initial pathway, and gives every variant PATHWAY-ID=<its source's name>.
	SteeringURI string
	// Relative keeps relative URIs relative: each source URL is then the source master's path
	// relative to where the merged master is written (for example primary/index.m3u8 when the
	// merged index.m3u8 sits at the bucket root), so index_1.m3u8 becomes primary/index_1.m3u8.
	// Otherwise source URLs must be absolute http(s) URLs and every URI is made absolute.
	Relative bool
}

// MergeWarning is something an operator should know about a merge that still succeeded, such as
// ladders that differ between sources.
type MergeWarning struct {
	Source  string // the source it is about
	Line    int    // the source line it is about, 0 when it is about no single line
	Message string
}

// String says which source (and line) the warning is about, and what.
func (w MergeWarning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", w.Source, w.Line, w.Message)
	}
	return w.Source + ": " + w.Message
}

// MergeResult is a merged master playlist and what the merge noticed.
type MergeResult struct {
	Playlist []byte
	Warnings []MergeWarning
	// Variants counts the EXT-X-STREAM-INF entries written and VariantGroups the groups of
	// redundant ones; IFrames and IFrameGroups likewise; Renditions counts EXT-X-MEDIA tags.
	Variants, VariantGroups, IFrames, IFrameGroups, Renditions int
}

// MergeSourceError is a merge failure caused by one source.
type MergeSourceError struct {
	Source string
	URL    string
	Err    error
}

func (e *MergeSourceError) Error() string {
	return fmt.Sprintf("source %s (%s): %v", e.Source, e.URL, e.Err)
}

func (e *MergeSourceError) Unwrap() error { return e.Err }

// Errors Merge fails with besides those of ParseMaster.
var (
	ErrMergeNoSources = errors.New("merge needs at least one source")
	ErrMergeInput     = errors.New("invalid merge input")
)

// Merge combines master playlists into one master that lists every source's variants as HLS
// redundant streams: identical variants of different sources sit next to each other, groups in
// order of first appearance, sources in the order given; I-frame variants likewise. It writes
// every tag from its source text, changing only what it must: URIs (made absolute, or prefixed
// in Relative mode), rendition group names (namespaced "<source>/<group>" so a variant never
// plays another source's audio) and, with content steering, PATHWAY-ID. The header is written
// once with the highest EXT-X-VERSION; EXT-X-INDEPENDENT-SEGMENTS only if every source has it.
// Playlist-wide tags that sources write identically (EXT-X-START, EXT-X-DEFINE, session data and
// keys, unknown tags) are written once, the first source's, URIs resolved against it; a second,
// different EXT-X-START or session data for the same DATA-ID and LANGUAGE is dropped with a
// warning. Comments are dropped. Ladders that differ between sources are merged anyway and
// reported as warnings. The output depends only on the inputs.
//
// Variables (EXT-X-DEFINE) are resolved per source first (ExpandMasterVariables, QUERYPARAM from
// the source's URL): the merged master's own tags and URIs hold values, never a {$name}, so each
// source's references mean what they meant in its own master wherever the merged one is served
// from. The EXT-X-DEFINE tags stay (QUERYPARAM ones as NAME and VALUE) for the media playlists'
// IMPORT; since a merged master can give a name only one value, a variable that two sources
// define differently is an error: one region's media playlists would import another's value.
func Merge(sources []MergeSource, opts MergeOptions) (*MergeResult, error) {
	if len(sources) == 0 {
		return nil, ErrMergeNoSources
	}
	if u := opts.SteeringURI; u != "" && strings.ContainsAny(u, "\"\r\n") {
		return nil, fmt.Errorf("%w: steering URI %q must not contain quotes or line breaks", ErrMergeInput, u)
	}
	m := &merger{
		opts:           opts,
		headerSeen:     map[string]bool{},
		sessionData:    map[string]mergeOrigin{},
		defines:        map[string]string{},
		variants:       mergeGroups{index: map[string]int{}},
		iframes:        mergeGroups{index: map[string]int{}},
		allIndependent: true,
	}
	names := make(map[string]bool, len(sources))
	for _, src := range sources {
		fail := func(err error) (*MergeResult, error) {
			return nil, &MergeSourceError{Source: src.Name, URL: src.URL, Err: err}
		}
		if err := CheckMergeName(src.Name); err != nil {
			return fail(err)
		}
		if names[src.Name] {
			return fail(fmt.Errorf("%w: name used twice", ErrMergeInput))
		}
		names[src.Name] = true
		base, err := mergeBase(src.URL, opts.Relative)
		if err != nil {
			return fail(err)
		}
		body, err := ExpandMasterVariables(src.Body, src.URL)
		if err != nil {
			return fail(err)
		}
		pl, err := ParseMaster(body)
		if err != nil {
			return fail(err)
		}
		if err := m.add(src.Name, base, pl); err != nil {
			return fail(err)
		}
	}
	return m.finish(sources[0].Name), nil
}

// CheckMergeName checks a source name: letters, digits, '.', '-' and '_', which makes it a valid
// Pathway ID and keeps "<name>/<group>" unambiguous.
func CheckMergeName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty source name", ErrMergeInput)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w: source name %q may hold only letters, digits, '.', '-' and '_'", ErrMergeInput, name)
		}
	}
	return nil
}

// mergeBase checks a source URL and splits it for resolving.
func mergeBase(raw string, relative bool) (mergeRef, error) {
	if strings.ContainsAny(raw, "\" \t\r\n") || raw == "" {
		return mergeRef{}, fmt.Errorf("%w: URL %q is empty or holds blanks or quotes", ErrMergeInput, raw)
	}
	if err := masterCheckText(raw); err != nil {
		return mergeRef{}, fmt.Errorf("%w: URL %q: %v", ErrMergeInput, raw, err)
	}
	b := mergeSplitRef(raw)
	if relative {
		return b, nil
	}
	if s := strings.ToLower(b.scheme); s != "http" && s != "https" || b.authority == "" {
		return mergeRef{}, fmt.Errorf("%w: URL %q is not an absolute http(s) URL", ErrMergeInput, raw)
	}
	return b, nil
}

type merger struct {
	opts MergeOptions

	version        *MasterTag // the EXT-X-VERSION tag with the highest version
	versionN       int
	allIndependent bool
	lacksIndep     []string
	sawIndep       bool
	header         []string
	headerSeen     map[string]bool
	start          *mergeOrigin
	steering       *mergeOrigin
	sessionData    map[string]mergeOrigin // DATA-ID and LANGUAGE -> the first source's tag
	defines        map[string]string      // variable name -> the tag written
	renditions     []string
	variants       mergeGroups
	iframes        mergeGroups
	nVariants      int
	nIFrames       int
	size           int // bytes written so far, to size the output
	warnings       []MergeWarning

	ref *mergeLadder // the first source's ladder, which the others are compared with
}

// mergeOrigin is a tag kept from one source.
type mergeOrigin struct {
	source, text string
}

// mergeGroups collects tags into groups of redundant ones, in order of first appearance.
type mergeGroups struct {
	index  map[string]int
	groups [][]mergeLines
}

// mergeLines is a tag as written and, for EXT-X-STREAM-INF, its URI line.
type mergeLines struct {
	tag, uri string
}

func (g *mergeGroups) add(key string, l mergeLines) {
	i, ok := g.index[key]
	if !ok {
		i = len(g.groups)
		g.index[key] = i
		g.groups = append(g.groups, nil)
	}
	g.groups[i] = append(g.groups[i], l)
}

// mergeLadder is what one source offers, for comparing sources.
type mergeLadder struct {
	source   string
	kinds    [3]map[string]int // variants, I-frame variants, renditions: key -> count
	keyed    [3][]mergeKeyed
	skip     string // the attribute Merge sets (PATHWAY-ID), left out of keys
	uriAttrs [3]string
}

// mergeKinds names the three kinds of a ladder in messages.
var mergeKinds = [3]string{"variant", "I-frame variant", "rendition"}

type mergeKeyed struct {
	key string
	tag *MasterTag
}

func (l *mergeLadder) add(kind int, key string, t *MasterTag) {
	if l.kinds[kind] == nil {
		l.kinds[kind] = map[string]int{}
	}
	l.kinds[kind][key]++
	l.keyed[kind] = append(l.keyed[kind], mergeKeyed{key, t})
}

// display returns a tag's attributes as written, without those its key leaves out.
func (l *mergeLadder) display(kind int, t *MasterTag) string {
	parts := make([]string, 0, t.Attrs.Len())
	for _, a := range t.Attrs.Attrs() {
		if a.Name != l.uriAttrs[kind] && a.Name != l.skip {
			parts = append(parts, a.Name+"="+a.Value)
		}
	}
	return strings.Join(parts, ",")
}

func (m *merger) warn(source string, line int, format string, args ...any) {
	m.warnings = append(m.warnings, MergeWarning{Source: source, Line: line, Message: fmt.Sprintf(format, args...)})
}

// mergeSource is one source being merged.
type mergeSource struct {
	m       *merger
	name    string
	base    mergeRef
	groups  map[string]map[string]bool // TYPE -> GROUP-IDs the source defines
	pathway string                     // "PATHWAY-ID" when Merge sets it
	warned  bool                       // about replacing the source's PATHWAY-ID
}

// write returns a tag with its URI attribute (if uriAttr is set and present) resolved and edits
// applied, every other byte as the source wrote it.
func (s *mergeSource) write(t *MasterTag, uriAttr string, edits []Attr) (string, error) {
	if uriAttr != "" {
		if a, ok := t.Attrs.Get(uriAttr); ok {
			u, err := mergeResolve(s.base, a.Unquoted())
			if err != nil {
				return "", fmt.Errorf("line %d %s: %w", t.Line, t.Name, err)
			}
			edits = append(edits, Attr{Name: uriAttr, Value: attrQuote(u)})
		}
	}
	if len(edits) == 0 {
		return t.Text, nil
	}
	var b strings.Builder
	b.Grow(len(t.Text) + 2*len(s.base.authority) + 16*len(edits) + 64)
	b.WriteByte('#')
	b.WriteString(t.Name)
	b.WriteByte(':')
	t.Attrs.editTo(&b, edits)
	return b.String(), nil
}

// group returns the edit that namespaces a group name or reference.
func (s *mergeSource) group(a Attr) Attr {
	return Attr{Name: a.Name, Value: "\"" + s.name + "/" + a.Unquoted() + "\""}
}

// variantEdits returns the edits of an EXT-X-STREAM-INF or EXT-X-I-FRAME-STREAM-INF: its group
// references namespaced (CLOSED-CAPTIONS=NONE stays NONE) and, with steering, its PATHWAY-ID.
func (s *mergeSource) variantEdits(t *MasterTag) []Attr {
	edits := make([]Attr, 0, len(masterGroupRefs)+1)
	for _, ref := range masterGroupRefs {
		a, ok := t.Attrs.Get(ref)
		if !ok || !a.Quoted() {
			continue
		}
		if !s.groups[ref][a.Unquoted()] {
			s.m.warn(s.name, t.Line, "%s=%s names no EXT-X-MEDIA TYPE=%s group of this source", ref, a.Value, ref)
		}
		edits = append(edits, s.group(a))
	}
	if s.pathway != "" {
		if old, ok := t.Attrs.Get(s.pathway); ok && old.Unquoted() != s.name && !s.warned {
			s.warned = true
			s.m.warn(s.name, t.Line, "replaced the source's PATHWAY-ID=%s with PATHWAY-ID=%q", old.Value, s.name)
		}
		edits = append(edits, Attr{Name: s.pathway, Value: attrQuote(s.name)})
	}
	return edits
}

// add merges one parsed source.
func (m *merger) add(name string, base mergeRef, pl *Master) error {
	s := &mergeSource{m: m, name: name, base: base, groups: map[string]map[string]bool{}}
	if m.opts.SteeringURI != "" {
		s.pathway = "PATHWAY-ID"
	}
	ladder := &mergeLadder{source: name, skip: s.pathway, uriAttrs: [3]string{"", "URI", "URI"}}

	if pl.VersionTag != nil && pl.Version > m.versionN {
		m.version, m.versionN = pl.VersionTag, pl.Version
	}
	if pl.IndependentSegments {
		m.sawIndep = true
	} else {
		m.allIndependent = false
		m.lacksIndep = append(m.lacksIndep, name)
	}
	if err := m.addHeaders(s, pl.Header); err != nil {
		return err
	}

	for i := range pl.Renditions {
		t := &pl.Renditions[i]
		typ, _ := t.Attrs.Get("TYPE")
		gid, _ := t.Attrs.Get("GROUP-ID")
		if s.groups[typ.Value] == nil {
			s.groups[typ.Value] = map[string]bool{}
		}
		s.groups[typ.Value][gid.Unquoted()] = true
		text, err := s.write(t, "URI", []Attr{s.group(gid)})
		if err != nil {
			return err
		}
		m.renditions = append(m.renditions, text)
		m.size += len(text) + 1
		ladder.add(2, mergeKey(t.Attrs, "URI", ""), t)
	}
	for i := range pl.Variants {
		t := &pl.Variants[i]
		text, err := s.write(t, "", s.variantEdits(t))
		if err != nil {
			return err
		}
		uri, err := mergeResolve(base, t.URI)
		if err != nil {
			return fmt.Errorf("line %d URI: %w", t.URILine, err)
		}
		key := mergeKey(t.Attrs, "", s.pathway)
		m.variants.add(key, mergeLines{text, uri})
		m.nVariants++
		m.size += len(text) + len(uri) + 2
		ladder.add(0, key, t)
	}
	for i := range pl.IFrames {
		t := &pl.IFrames[i]
		text, err := s.write(t, "URI", s.variantEdits(t))
		if err != nil {
			return err
		}
		key := mergeKey(t.Attrs, "URI", s.pathway)
		m.iframes.add(key, mergeLines{tag: text})
		m.nIFrames++
		m.size += len(text) + 1
		ladder.add(1, key, t)
	}

	if m.ref == nil {
		m.ref = ladder
		return nil
	}
	m.compare(ladder)
	return nil
}

// addHeaders merges a source's playlist-wide tags.
func (m *merger) addHeaders(s *mergeSource, header []MasterTag) error {
	name := s.name
	for i := range header {
		t := &header[i]
		switch t.Name {
		case masterTagStart:
			if m.start == nil {
				m.start = &mergeOrigin{source: name, text: t.Text}
				m.addHeader(t.Text, t.Text)
			} else if m.start.text != t.Text {
				m.warn(name, t.Line, "%s differs from %s's %s; kept %s's", t.Text, m.start.source, m.start.text, m.start.source)
			}
		case masterTagDefine:
			key := ""
			for _, a := range t.Attrs.Attrs() {
				if a.Name == "NAME" || a.Name == "IMPORT" || a.Name == "QUERYPARAM" {
					key = a.Unquoted()
				}
			}
			if prev, ok := m.defines[key]; ok && prev != t.Text {
				return fmt.Errorf("line %d %s: %w: variable %q is defined differently by another source (%s)", t.Line, t.Name, ErrMergeInput, key, prev)
			}
			m.defines[key] = t.Text
			m.addHeader(t.Text, t.Text)
		case masterTagSessionData:
			id, _ := t.Attrs.Get("DATA-ID")
			lang, _ := t.Attrs.Get("LANGUAGE")
			key := id.Unquoted() + "\x00" + lang.Unquoted()
			if prev, ok := m.sessionData[key]; ok {
				if prev.text != t.Text {
					m.warn(name, t.Line, "%s differs from %s's %s for the same DATA-ID and LANGUAGE; kept %s's", t.Text, prev.source, prev.text, prev.source)
				}
				continue
			}
			m.sessionData[key] = mergeOrigin{source: name, text: t.Text}
			if err := m.addRewritten(s, t, "URI"); err != nil {
				return err
			}
		case masterTagSessionKey:
			if err := m.addRewritten(s, t, "URI"); err != nil {
				return err
			}
		case masterTagSteering:
			switch {
			case m.opts.SteeringURI != "":
				m.warn(name, t.Line, "replaced the source's %s with the merge's own content steering", t.Text)
			case m.steering == nil:
				m.steering = &mergeOrigin{source: name, text: t.Text}
				if err := m.addRewritten(s, t, "SERVER-URI"); err != nil {
					return err
				}
			case m.steering.text != t.Text:
				m.warn(name, t.Line, "%s differs from %s's %s; kept %s's (a playlist may have only one)", t.Text, m.steering.source, m.steering.text, m.steering.source)
			}
		default:
			m.addHeader(t.Text, t.Text)
		}
	}
	return nil
}

// addHeader adds a playlist-wide tag unless a source wrote the same tag before: sources that say
// the same thing are said once, by the first of them.
func (m *merger) addHeader(orig, text string) {
	if !m.headerSeen[orig] {
		m.headerSeen[orig] = true
		m.header = append(m.header, text)
		m.size += len(text) + 1
	}
}

// addRewritten adds a playlist-wide tag with its URI attribute resolved.
func (m *merger) addRewritten(s *mergeSource, t *MasterTag, uriAttr string) error {
	if m.headerSeen[t.Text] {
		return nil
	}
	text, err := s.write(t, uriAttr, nil)
	if err != nil {
		return err
	}
	m.addHeader(t.Text, text)
	return nil
}

// compare warns about what a source offers differently from the first source: variants that are
// not redundant with anything are the ones a player cannot fail over from or to.
func (m *merger) compare(l *mergeLadder) {
	ref := m.ref
	for kind := range mergeKinds {
		left := make(map[string]int, len(ref.kinds[kind]))
		for k, n := range ref.kinds[kind] {
			left[k] = n
		}
		for _, k := range l.keyed[kind] {
			if left[k.key] > 0 {
				left[k.key]--
				continue
			}
			m.warn(l.source, k.tag.Line, "%s %s has no match in %s", mergeKinds[kind], l.display(kind, k.tag), ref.source)
		}
		for _, k := range ref.keyed[kind] {
			if left[k.key] > 0 {
				left[k.key]--
				m.warn(l.source, 0, "lacks %s's %s %s (%s line %d)", ref.source, mergeKinds[kind], ref.display(kind, k.tag), ref.source, k.tag.Line)
			}
		}
	}
}

// mergeKey returns what identifies a tag among redundant ones: its attributes sorted by name,
// without the URI attribute and the attribute Merge sets (skip), with group names as the source
// wrote them.
func mergeKey(l AttrList, uriAttr, skip string) string {
	attrs := l.Attrs()
	var buf [24]int
	idx := buf[:0]
	for i, a := range attrs {
		if a.Name != uriAttr && a.Name != skip {
			idx = append(idx, i)
		}
	}
	// Names are unique within a list, so sorting by name is a total order.
	slices.SortFunc(idx, func(x, y int) int { return strings.Compare(attrs[x].Name, attrs[y].Name) })
	var b strings.Builder
	b.Grow(len(l.text))
	for n, i := range idx {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(attrs[i].Name)
		b.WriteByte('=')
		b.WriteString(attrs[i].Value)
	}
	return b.String()
}

// finish writes the merged playlist.
func (m *merger) finish(first string) *MergeResult {
	if m.sawIndep && !m.allIndependent {
		for _, s := range m.lacksIndep {
			m.warn(s, 0, "has no EXT-X-INDEPENDENT-SEGMENTS, so the merged master does not claim it")
		}
	}
	out := make([]byte, 0, m.size+len(m.opts.SteeringURI)+len(first)+128)
	line := func(s string) {
		out = append(out, s...)
		out = append(out, '\n')
	}
	line(masterHeaderLine)
	if m.version != nil {
		line(m.version.Text)
	}
	if m.allIndependent {
		line("#" + masterTagIndependent)
	}
	if m.opts.SteeringURI != "" {
		line("#" + masterTagSteering + ":SERVER-URI=" + attrQuote(m.opts.SteeringURI) + ",PATHWAY-ID=" + attrQuote(first))
	}
	for _, h := range m.header {
		line(h)
	}
	for _, r := range m.renditions {
		line(r)
	}
	for _, g := range [2]*mergeGroups{&m.variants, &m.iframes} {
		for _, group := range g.groups {
			for _, v := range group {
				line(v.tag)
				if v.uri != "" {
					line(v.uri)
				}
			}
		}
	}
	return &MergeResult{
		Playlist:      out,
		Warnings:      m.warnings,
		Variants:      m.nVariants,
		VariantGroups: len(m.variants.groups),
		IFrames:       m.nIFrames,
		IFrameGroups:  len(m.iframes.groups),
		Renditions:    len(m.renditions),
	}
}
