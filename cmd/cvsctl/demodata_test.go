package main

import _ "embed"

// Sample regional masters for the merge tests. basic is the master of the install guide (seed
// 002), relative URIs and all; advanced is an fMP4 master with audio groups, subtitles, closed
// captions, I-frame variants and session tags.
var (
	//go:embed demodata/basic.m3u8
	demoBasic []byte
	//go:embed demodata/advanced.m3u8
	demoAdvanced []byte
)
