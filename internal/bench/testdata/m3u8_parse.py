"""Times the Python m3u8 library (m3u8.loads) on the bodies make bench gives every parser.

Usage: python3 m3u8_parse.py <media.m3u8> <master.m3u8> <milliseconds per body>
Prints one JSON line: {"version", "media": {...}, "master": {...}}.
"""
import json
import sys
import time

import m3u8


def timed(fn, budget_ns):
    for _ in range(200):
        fn()
    n = 0
    start = time.perf_counter_ns()
    elapsed = 0
    while elapsed < budget_ns:
        for _ in range(100):
            fn()
        n += 100
        elapsed = time.perf_counter_ns() - start
    return {"ns": elapsed / n, "iterations": n}


def main():
    media_path, master_path, ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(media_path, encoding="utf-8") as f:
        media = f.read()
    with open(master_path, encoding="utf-8") as f:
        master = f.read()
    budget = int(ms * 1e6)
    uri = "https://d1.cloudfront.net/out/v1/0123456789abcdef/"
    m = m3u8.loads(media, uri=uri + "index_1.m3u8")
    v = m3u8.loads(master, uri=uri + "index.m3u8")
    out = {
        "version": getattr(m3u8, "__version__", "") or version(),
        "media": dict(timed(lambda: m3u8.loads(media, uri=uri + "index_1.m3u8"), budget), fragments=len(m.segments)),
        "master": dict(
            timed(lambda: m3u8.loads(master, uri=uri + "index.m3u8"), budget),
            levels=len(v.playlists),
            iframes=len(v.iframe_playlists),
            audio=len([x for x in v.media if x.type == "AUDIO"]),
        ),
    }
    print(json.dumps(out))


def version():
    try:
        from importlib.metadata import version as v

        return v("m3u8")
    except Exception:  # the version is a label only
        return "unknown"


if __name__ == "__main__":
    main()
