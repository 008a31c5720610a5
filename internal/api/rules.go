package api

// ValidateCluster checks a cluster name by the API's rule, so that a client can refuse it
// before sending anything.
func ValidateCluster(name string) error { return validCluster(name) }

// ValidateDomain checks an instance key by the API's rule for either kind of run (a CloudFront
// domain, or a loopback host and port), since a client cannot tell which API it talks to.
func ValidateDomain(domain string) error { return validDomain(domain, true) }

// ValidateReason checks a required operator's reason by the API's rule.
func ValidateReason(reason string) error { return validReason(reason, true) }

// ValidatePlaylistURL checks a URL that goes into a master playlist (origin, distribution or
// steering URI) by the API's rule; field names it in the message.
func ValidatePlaylistURL(field, raw string) error { return validPlaylistURL(field, raw) }
