// Package hls reads and writes HLS playlists: live media playlist analysis (is a stream still
// advancing?) and lossless merging of master playlists into redundant streams. It does no network IO.
package hls
