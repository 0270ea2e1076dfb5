package gs1

import "strconv"

// Date is a calendar date (no time zone: GS1 dates are local to the item).
type Date struct {
	Year, Month, Day int
}

// String renders YYYY-MM-DD.
func (d Date) String() string {
	return pad(d.Year, 4) + "-" + pad(d.Month, 2) + "-" + pad(d.Day, 2)
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}

func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// Expiry is an expiration date as carried in AI 17: six digits YYMMDD. It
// is kept in that form (it is what barcodes, Digital Links and EPCIS ilmd
// carry) and resolved to a calendar date with Resolve, which needs the
// current year for the century (GS1 General Specifications §7.12).
//
// DD = 00 means the day is not given; the date is the last day of the month
// (GS1 General Specifications, AI 17). GS1 healthcare guidance (GSCN 21-040)
// asks that medicines carry a real day from 2025 on: DayUnspecified lets the
// caller apply that rule.
type Expiry string

// ParseExpiry validates YYMMDD: six digits, month 01–12, day 00 or a day of
// that month (29 February only in a year divisible by four, which is right
// for every year the century rule can produce from 1951 to 2099 — Resolve
// checks again with the resolved year).
func ParseExpiry(s string) (Expiry, error) {
	const what = "expiry date (AI 17)"
	if len(s) != 6 {
		return "", fault(what, s, ErrLength, "want 6 digits YYMMDD")
	}
	if !allDigits(s) {
		return "", fault(what, s, ErrNotDigits, "")
	}
	yy, mm, dd := atoi2(s[0:2]), atoi2(s[2:4]), atoi2(s[4:6])
	if mm < 1 || mm > 12 {
		return "", fault(what, s, ErrDate, "month "+s[2:4])
	}
	leap := yy%4 == 0
	if dd > daysIn(mm, leap) {
		return "", fault(what, s, ErrDate, "day "+s[4:6]+" of month "+s[2:4])
	}
	return Expiry(s), nil
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

func daysIn(month int, leap bool) int {
	switch month {
	case 2:
		if leap {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// DayUnspecified reports DD = 00.
func (e Expiry) DayUnspecified() bool { return len(e) == 6 && e[4:6] == "00" }

// CenturyYear resolves a two-digit year with the rule of GS1 General
// Specifications §7.12: with d = YY − (currentYear mod 100), d from 51 to 99
// means the previous century, d from −50 to −99 the next one, otherwise the
// current century. currentYear is a parameter (the block time's year on
// chain) so that resolution is deterministic.
func CenturyYear(yy, currentYear int) int {
	century := currentYear - currentYear%100
	d := yy - currentYear%100
	switch {
	case d >= 51:
		century -= 100
	case d <= -50:
		century += 100
	}
	return century + yy
}

// Resolve returns the calendar date the expiry stands for in currentYear:
// the century by CenturyYear, and for DD = 00 the last day of the month.
func (e Expiry) Resolve(currentYear int) (Date, error) {
	if _, err := ParseExpiry(string(e)); err != nil {
		return Date{}, err
	}
	y := CenturyYear(atoi2(string(e[0:2])), currentYear)
	m, d := atoi2(string(e[2:4])), atoi2(string(e[4:6]))
	if d == 0 {
		d = daysIn(m, isLeap(y))
	}
	if d > daysIn(m, isLeap(y)) {
		return Date{}, fault("expiry date (AI 17)", string(e), ErrDate, "no 29 February in "+strconv.Itoa(y))
	}
	return Date{Year: y, Month: m, Day: d}, nil
}

// ExpiryFromDate renders a calendar date as AI 17 YYMMDD (EPCIS ilmd carries
// xsd:date "2026-12-31"; barcodes carry 261231).
func ExpiryFromDate(d Date) (Expiry, error) {
	if d.Year < 0 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > daysIn(d.Month, isLeap(d.Year)) {
		return "", fault("expiry date", d.String(), ErrDate, "")
	}
	return Expiry(pad(d.Year%100, 2) + pad(d.Month, 2) + pad(d.Day, 2)), nil
}

// ParseISODate parses an xsd:date "YYYY-MM-DD" (as EPCIS ilmd's
// itemExpirationDate carries it).
func ParseISODate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[0:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) {
		return Date{}, fault("date", s, ErrSyntax, "want YYYY-MM-DD")
	}
	y, _ := strconv.Atoi(s[0:4])
	d := Date{Year: y, Month: atoi2(s[5:7]), Day: atoi2(s[8:10])}
	if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > daysIn(d.Month, isLeap(d.Year)) {
		return Date{}, fault("date", s, ErrDate, "")
	}
	return d, nil
}
