package lambdaevent

// ScheduleDetailType is the detail-type of the events an EventBridge schedule sends.
const ScheduleDetailType = "Scheduled Event"

// Scheduled reports whether e is an EventBridge schedule's event: the functions' timers carry
// nothing else that they read.
func (e Envelope) Scheduled() bool {
	return e.Kind == EventBridge && e.DetailType == ScheduleDetailType
}
