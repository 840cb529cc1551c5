package platform

// Redact is redact, for the tests of package platform_test.
var Redact = redact
