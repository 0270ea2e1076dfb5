package supply

// ParseUnitKeySlow is ParseUnitKey without its fast path, for tests.
var ParseUnitKeySlow = parseUnitKeySlow
