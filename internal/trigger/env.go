package trigger

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ConfigFromEnv reads the settings part of a Config from environment variables (getenv is
// os.Getenv in Lambda):
//
//	FAILOVER_STATE_MACHINE_ARN  the failover state machine (New requires it)
//	ENABLE_FAILBACK             "true" or "false" (required)
//	FAILBACK_STATE_MACHINE_ARN  the failback state machine: required when failback is enabled,
//	                            ignored (FailbackArn "") when it is not
//	HOLD_DOWN_SECONDS           whole seconds the origin must stay fresh before failback (required)
//	DEAD_LETTER_QUEUE_URL       the function's on-failure destination, which also takes events no
//	                            retry mends (required)
//
// The caller adds the clients (SFN, DeadLetters) and the logger; New checks the ranges. Every
// malformed or missing value is reported, joined in one error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{FailoverArn: getenv("FAILOVER_STATE_MACHINE_ARN"), DeadLetterQueueURL: getenv("DEAD_LETTER_QUEUE_URL")}
	var problems []error
	enable, err := strconv.ParseBool(getenv("ENABLE_FAILBACK"))
	if err != nil {
		problems = append(problems, fmt.Errorf("ENABLE_FAILBACK=%q: want true or false", getenv("ENABLE_FAILBACK")))
	}
	if n, err := strconv.Atoi(getenv("HOLD_DOWN_SECONDS")); err != nil || n < 0 {
		problems = append(problems, fmt.Errorf("HOLD_DOWN_SECONDS=%q: want a whole number of seconds", getenv("HOLD_DOWN_SECONDS")))
	} else {
		c.HoldDown = time.Duration(n) * time.Second
	}
	if enable {
		c.FailbackArn = getenv("FAILBACK_STATE_MACHINE_ARN")
		if c.FailbackArn == "" {
			problems = append(problems, errors.New("ENABLE_FAILBACK=true needs FAILBACK_STATE_MACHINE_ARN"))
		}
	}
	if c.DeadLetterQueueURL == "" {
		problems = append(problems, errors.New("DEAD_LETTER_QUEUE_URL is required: events that cannot start a workflow are kept there"))
	}
	return c, errors.Join(problems...)
}
