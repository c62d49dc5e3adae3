"""The sandbox: a stand-in for Telegram and a simulated phone line, so the real product runs on a
machine with no token and no network (`nextstep demo`); the tests drive the same stand-in."""
