// Times hls.js's own M3U8 parser on the bodies make bench gives every parser: the calls its
// playlist-loader makes for a level playlist (parseLevelPlaylist) and for a master
// (parseMasterPlaylist, then parseMasterPlaylistMedia).
// Usage: node hlsjs_parse.mjs <hls.mjs> <media.m3u8> <master.m3u8> <milliseconds per body>
// Prints one JSON line: {"version", "media": {...}, "master": {...}}.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [hlsPath, mediaPath, masterPath, msArg] = process.argv.slice(2);
const { default: Hls, M3U8Parser, PlaylistLevelType } = await import(pathToFileURL(hlsPath).href);
const media = readFileSync(mediaPath, 'utf8');
const master = readFileSync(masterPath, 'utf8');
const budgetNs = BigInt(Math.round(Number(msArg || 1000) * 1e6));
const base = 'https://d1.cloudfront.net/out/v1/0123456789abcdef/';

function parseMedia() {
  return M3U8Parser.parseLevelPlaylist(media, base + 'index_1.m3u8', 0, PlaylistLevelType.MAIN, 0, null);
}

function parseMaster() {
  const url = base + 'index.m3u8';
  const parsed = M3U8Parser.parseMasterPlaylist(master, url);
  if (parsed.playlistParsingError) throw parsed.playlistParsingError;
  return { parsed, media: M3U8Parser.parseMasterPlaylistMedia(master, url, parsed) };
}

// time runs fn in batches until the budget is spent, after a JIT warm-up.
function time(fn) {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < budgetNs) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return { ns: Number(elapsed) / n, iterations: n };
}

const m = parseMedia();
const ms = parseMaster();
const out = {
  version: Hls.version,
  media: { ...time(parseMedia), fragments: m.fragments.length },
  master: {
    ...time(parseMaster),
    levels: ms.parsed.levels.length,
    iframes: (ms.parsed.iframeVariants || []).length,
    audio: (ms.media.AUDIO || []).length,
  },
};
process.stdout.write(JSON.stringify(out) + '\n');
