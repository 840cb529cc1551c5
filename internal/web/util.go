package web

import "time"

// dateLayout is what a date input sends.
const dateLayout = "2006-01-02"

// endOfDay reads a date input and returns the last second of that day in
// zone (a date chosen as an expiry counts whole), right on days that are
// 23 or 25 hours long.
func endOfDay(date string, zone *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation(dateLayout, date, zone)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, zone).Add(-time.Second), nil
}

// lastDayBefore is the last date whose end is not after limit.
func lastDayBefore(limit time.Time, zone *time.Location) string {
	day := limit.In(zone)
	if end, _ := endOfDay(day.Format(dateLayout), zone); end.After(limit) {
		day = day.AddDate(0, 0, -1)
	}
	return day.Format(dateLayout)
}
