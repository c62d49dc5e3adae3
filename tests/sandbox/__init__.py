"""`nextstep demo` in a real browser (Debian chromium through playwright) and its parts."""
