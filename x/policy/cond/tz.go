package cond

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// CEL's timestamp accessors with a time zone argument (getHours("Europe/Paris"),
// …) load the zone with time.LoadLocation on every evaluation: a file read
// and a parse, several times the cost of the rest of a typical condition.
// timeZoneFuncs redefines those overloads — same ids, same signatures, so
// type-checking, cost estimates and runtime costs are unchanged — with the
// zone looked up once per name and kept. The result is the same as CEL's:
// the same zone rules (the Go runtime's tzdata), the same fixed-offset
// parsing and the same error texts; a zone that fails to load fails the
// same way every time.
func timeZoneFuncs() []cel.EnvOption {
	tsStr := []*cel.Type{cel.TimestampType, cel.StringType}
	def := func(fn, overload string, get func(time.Time) int64) cel.EnvOption {
		return cel.Function(fn, cel.MemberOverload(overload, tsStr, cel.IntType,
			cel.BinaryBinding(func(ts, tz ref.Val) ref.Val {
				t, err := inZone(ts, tz)
				if err != nil {
					return types.NewErrFromString(err.Error())
				}
				return types.Int(get(t))
			})))
	}
	return []cel.EnvOption{
		def(overloads.TimeGetFullYear, overloads.TimestampToYearWithTz, func(t time.Time) int64 { return int64(t.Year()) }),
		def(overloads.TimeGetMonth, overloads.TimestampToMonthWithTz, func(t time.Time) int64 { return int64(t.Month() - 1) }),
		def(overloads.TimeGetDayOfYear, overloads.TimestampToDayOfYearWithTz, func(t time.Time) int64 { return int64(t.YearDay() - 1) }),
		def(overloads.TimeGetDayOfMonth, overloads.TimestampToDayOfMonthZeroBasedWithTz, func(t time.Time) int64 { return int64(t.Day() - 1) }),
		def(overloads.TimeGetDate, overloads.TimestampToDayOfMonthOneBasedWithTz, func(t time.Time) int64 { return int64(t.Day()) }),
		def(overloads.TimeGetDayOfWeek, overloads.TimestampToDayOfWeekWithTz, func(t time.Time) int64 { return int64(t.Weekday()) }),
		def(overloads.TimeGetHours, overloads.TimestampToHoursWithTz, func(t time.Time) int64 { return int64(t.Hour()) }),
		def(overloads.TimeGetMinutes, overloads.TimestampToMinutesWithTz, func(t time.Time) int64 { return int64(t.Minute()) }),
		def(overloads.TimeGetSeconds, overloads.TimestampToSecondsWithTz, func(t time.Time) int64 { return int64(t.Second()) }),
		def(overloads.TimeGetMilliseconds, overloads.TimestampToMillisecondsWithTz, func(t time.Time) int64 { return int64(t.Nanosecond() / 1000000) }),
	}
}

type zone struct {
	loc *time.Location
	err error
}

var (
	zonesMu sync.RWMutex
	zones   = map[string]zone{}
)

// maxZones bounds the zone cache: names come from registered expressions,
// so there are few; past the bound the cache starts afresh.
const maxZones = 1024

// inZone is cel-go's inTimeZone (common/stdlib) with the zone cached.
func inZone(ts, tz ref.Val) (time.Time, error) {
	t, ok := ts.(types.Timestamp)
	if !ok {
		return time.Time{}, fmt.Errorf("no such overload")
	}
	s, ok := tz.(types.String)
	if !ok {
		return time.Time{}, fmt.Errorf("no such overload")
	}
	loc, err := location(string(s))
	if err != nil {
		return time.Time{}, err
	}
	return t.In(loc), nil
}

func location(val string) (*time.Location, error) {
	zonesMu.RLock()
	z, ok := zones[val]
	zonesMu.RUnlock()
	if ok {
		return z.loc, z.err
	}
	z.loc, z.err = loadZone(val)
	zonesMu.Lock()
	if len(zones) >= maxZones {
		clear(zones)
	}
	zones[val] = z
	zonesMu.Unlock()
	return z.loc, z.err
}

// loadZone mirrors cel-go's parsing: an IANA name (no colon) is loaded; a
// "±HH:MM" offset becomes a fixed zone.
func loadZone(val string) (*time.Location, error) {
	ind := strings.Index(val, ":")
	if ind == -1 {
		return time.LoadLocation(val)
	}
	hr, err := strconv.Atoi(val[0:ind])
	if err != nil {
		return nil, err
	}
	min, err := strconv.Atoi(val[ind+1:])
	if err != nil {
		return nil, err
	}
	if hr < -23 || hr > 23 {
		return nil, fmt.Errorf("timezone offset hours out of range [-23, 23]: %s", val)
	}
	if min < 0 || min > 59 {
		return nil, fmt.Errorf("timezone offset minutes out of range [0, 59]: %s", val)
	}
	var offset int
	if string(val[0]) == "-" {
		offset = hr*60 - min
	} else {
		offset = hr*60 + min
	}
	secondsEastOfUTC := int((time.Duration(offset) * time.Minute).Seconds())
	return time.FixedZone("", secondsEastOfUTC), nil
}
