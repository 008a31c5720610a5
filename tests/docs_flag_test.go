package tests

import "flag"

// updateDocs lets the browser tests rewrite the screenshots committed under docs/; a normal run
// only checks the pages and never writes into the repository.
var updateDocs = flag.Bool("update-docs", false, "rewrite the screenshots under docs/ (browser tests)")
